//! The `/users/me` handler's tests, and the whole flow on DynamoDB Local and moto.
mod flow;
mod handler;

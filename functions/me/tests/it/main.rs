//! The `/users/me` handler's tests, its API keys, and the whole flow on DynamoDB Local and moto.
mod api_keys;
mod flow;
mod handler;

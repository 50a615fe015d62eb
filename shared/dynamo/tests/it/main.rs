//! The DynamoDB store against DynamoDB Local: the shared contract and the records it writes.
mod contract;
mod records;

//! The notification log: lists and details for the API and the console.

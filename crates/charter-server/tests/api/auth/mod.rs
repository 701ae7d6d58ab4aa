//! `/api/v1/auth/…`: signing in and out.

mod login;
mod logout;

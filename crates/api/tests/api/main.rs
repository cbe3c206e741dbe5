mod auth;
mod channels;
mod health;
mod helpers;
mod monitors;
mod openapi;
mod reads;
mod validation;

mod helpers;
mod pipeline;

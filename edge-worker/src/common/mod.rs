//! Small pieces every object uses: the configuration's rules, ordered per-target queues, the replay
//! guard for core's signed requests, and the counters objects keep.

pub mod config;
pub mod queues;
pub mod replay_guard;
pub mod stats;

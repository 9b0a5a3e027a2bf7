//! Small pieces every object uses: ordered per-target queues, the replay
//! guard for core's signed requests, and the counters objects keep.

pub mod queues;
pub mod replay_guard;
pub mod stats;

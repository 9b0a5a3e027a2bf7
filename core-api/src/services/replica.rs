//! Reads that may go to the streaming replica (`DATABASE_READ_URL`): history
//! pages and conversation lists. Read-your-writes: a read first takes the
//! primary's WAL position (one trivial query on the primary) and uses the
//! replica only once the replica has replayed up to it, so every write
//! committed before the read began (the reader's own, through any core
//! replica, and everyone else's) is in what it reads. A replica that has not
//! caught up within [`CATCH_UP`], or cannot be asked, leaves the read to the
//! primary; one that cannot be asked is then skipped for
//! [`ReadReplica::BACKOFF`](crate::state::ReadReplica::BACKOFF).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;

use crate::repositories::replica as repo;
use crate::state::AppState;

/// How long a read waits for the replica to replay up to the primary's
/// position before it reads the primary instead.
pub const CATCH_UP: Duration = Duration::from_millis(100);
const POLL: Duration = Duration::from_millis(5);

/// Which server a read went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    Primary,
    Replica,
}

/// The pool for one read, and which it is.
pub async fn pool_for_read(state: &AppState) -> (&PgPool, ReadFrom) {
    let Some(replica) = state.read_db.as_ref().filter(|r| !r.skipped()) else {
        return (&state.db, ReadFrom::Primary);
    };
    // the whole check, a connection to the replica included, within the wait
    let answered = AtomicBool::new(false);
    let check = caught_up(&state.db, &replica.pool, &answered);
    match tokio::time::timeout(CATCH_UP, check).await {
        Ok(Ok(true)) => (&replica.pool, ReadFrom::Replica),
        Ok(Ok(false)) => (&state.db, ReadFrom::Primary),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "replica unavailable: reading the primary for a while");
            replica.failed();
            (&state.db, ReadFrom::Primary)
        }
        Err(_) => {
            // behind (it answered), or unreachable (a connection that never came)
            if !answered.load(Ordering::Relaxed) {
                tracing::warn!("replica does not answer: reading the primary for a while");
                replica.failed();
            }
            (&state.db, ReadFrom::Primary)
        }
    }
}

/// Polls the replica until it has replayed up to the primary's position.
async fn caught_up(
    primary: &PgPool,
    replica: &PgPool,
    answered: &AtomicBool,
) -> sqlx::Result<bool> {
    let Ok(position) = repo::primary_position(primary).await else {
        answered.store(true, Ordering::Relaxed); // the primary's trouble, not the replica's
        return Ok(false);
    };
    loop {
        let done = repo::replayed(replica, &position).await?;
        answered.store(true, Ordering::Relaxed);
        if done {
            return Ok(true);
        }
        tokio::time::sleep(POLL).await;
    }
}

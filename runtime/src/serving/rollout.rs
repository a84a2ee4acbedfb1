//! Changing the served versions while the server runs: a new version rolled out as the canary once its replicas
//! are ready, promote and rollback; a version that leaves is drained, then its replicas are stopped.

use std::sync::Arc;

use super::config::ModelVersion;
use super::event::{ServeEvent, VersionChange};
use super::pool::Pool;
use super::shared::{Routes, Shared};
use super::{ServeError, autoscaler, state, template};

fn change_of(shared: &Shared, routes: &Routes, retired: &[Arc<Pool>]) -> VersionChange {
    VersionChange {
        model: shared.config.name.clone(),
        stable: routes.stable.version().to_owned(),
        canary: routes.canary.as_ref().map(|pool| pool.version().to_owned()),
        canary_percent: routes.canary.as_ref().map_or(0.0, |_| routes.canary_percent),
        retired: retired.iter().map(|pool| pool.version().to_owned()).collect(),
    }
}

/// After the routes changed: the state file follows them, then the versions that left finish
/// their in-flight requests and stop (requests that had chosen them are routed anew).
async fn settle(shared: &Shared, leaving: &[Arc<Pool>]) {
    if let Some(state_dir) = &shared.config.state_dir
        && let Err(error) = state::write_state(state_dir, &shared.server_state())
    {
        let path = state::state_path(state_dir, &shared.config.name, std::process::id());
        let reason = format!("cannot update {}: {error}", path.display());
        let _ = shared.events.try_send(ServeEvent::StateFileFailed { reason });
    }
    for pool in leaving {
        pool.retire();
    }
    for pool in leaving {
        pool.shutdown().await;
    }
}

/// Starts `version`'s replicas beside the running ones and, once they are ready, makes it the
/// canary with `percent` of the traffic: the newest version served so far becomes the stable one,
/// and the version before it (if any) is drained and stopped. Requests never see a version
/// without ready replicas; a version that does not get ready is stopped and nothing changes.
pub async fn roll_out(shared: &Shared, version: ModelVersion, percent: f64) -> Result<VersionChange, ServeError> {
    if !(0.0..=100.0).contains(&percent) {
        return Err(ServeError::Rollout(format!("percent {percent} is outside 0..100")));
    }
    let _changing = shared.changing.lock().await;
    if shared.routes().pools().any(|pool| pool.version() == version.version) {
        return Err(ServeError::Rollout(format!("version {} is already served", version.version)));
    }
    let label = version.version.clone();
    let pool = Arc::new(Pool::new(template(&shared.config, &version, &shared.client, &shared.events)));
    shared.adopt(&pool);
    let scaling = &shared.config.scaling;
    // At least one replica even with scale to zero: the canary must answer its first request.
    let initial = scaling.min.max(1) as usize;
    pool.scale_to(initial);
    pool.set_autoscaler(tokio::spawn(autoscaler::run(Arc::clone(&pool), scaling.clone())));
    if let Err(reason) = pool.wait_ready(initial, shared.config.readiness_timeout).await {
        pool.shutdown().await;
        shared.forget(&pool);
        let _ =
            shared.events.try_send(ServeEvent::RolloutFailed { version: label.clone(), reason: reason.to_string() });
        return Err(ServeError::Rollout(format!("version {label} did not get ready: {reason}")));
    }
    let mut leaving = Vec::new();
    let routes = shared.update_routes(|routes| {
        let newest = routes.canary.as_ref().unwrap_or(&routes.stable);
        if routes.canary.is_some() {
            leaving.push(Arc::clone(&routes.stable));
        }
        Routes { stable: Arc::clone(newest), canary: Some(Arc::clone(&pool)), canary_percent: percent }
    });
    let change = change_of(shared, &routes, &leaving);
    let _ = shared.events.try_send(ServeEvent::RolledOut(change.clone()));
    settle(shared, &leaving).await;
    Ok(change)
}

/// All traffic to the canary, which becomes the only version; the old stable one is drained and stopped.
pub async fn promote(shared: &Shared) -> Result<VersionChange, ServeError> {
    let _changing = shared.changing.lock().await;
    let mut leaving = Vec::new();
    let routes = shared.update_routes(|routes| match &routes.canary {
        Some(canary) => {
            leaving.push(Arc::clone(&routes.stable));
            Routes { stable: Arc::clone(canary), canary: None, canary_percent: 0.0 }
        }
        None => Routes { stable: Arc::clone(&routes.stable), canary: None, canary_percent: 0.0 },
    });
    if leaving.is_empty() {
        return Err(no_canary(shared));
    }
    let change = change_of(shared, &routes, &leaving);
    let _ = shared.events.try_send(ServeEvent::Promoted(change.clone()));
    settle(shared, &leaving).await;
    Ok(change)
}

/// All traffic back to the stable version, which becomes the only one; the canary is drained and stopped.
pub async fn rollback(shared: &Shared) -> Result<VersionChange, ServeError> {
    let _changing = shared.changing.lock().await;
    let mut leaving = Vec::new();
    let routes = shared.update_routes(|routes| {
        leaving.extend(routes.canary.iter().cloned());
        Routes { stable: Arc::clone(&routes.stable), canary: None, canary_percent: 0.0 }
    });
    if leaving.is_empty() {
        return Err(no_canary(shared));
    }
    let change = change_of(shared, &routes, &leaving);
    let _ = shared.events.try_send(ServeEvent::RolledBack(change.clone()));
    settle(shared, &leaving).await;
    Ok(change)
}

fn no_canary(shared: &Shared) -> ServeError {
    ServeError::Canary(format!("model {} has no canary version", shared.config.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_says_what_is_served_and_what_stopped() {
        let mut change = VersionChange {
            model: "api".into(),
            stable: "1".into(),
            canary: Some("2".into()),
            canary_percent: 10.0,
            retired: vec!["0".into()],
        };
        assert_eq!(
            change.to_string(),
            "`api` now serves version 1 (90%) and canary 2 (10%); version 0 drained and stopped"
        );
        change.canary = None;
        change.retired.clear();
        assert_eq!(change.to_string(), "`api` now serves version 1 (100%)");
    }
}

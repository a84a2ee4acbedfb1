//! The one way kfl's own HTTP clients (KFP's API, the object store) are set up: the system's TLS roots, and bounds on connecting and on every answer.

use std::time::Duration;

use crate::launch::API_CONNECT_TIMEOUT;

/// An agent that verifies https against the system's roots, leaves HTTP error statuses to the caller (their bodies
/// carry the server's own words), and bounds connecting and each call's sending and answer by `answer` (a server,
/// or a proxy in front of it, that accepts and never answers).
pub fn agent(answer: Duration) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .timeout_connect(Some(API_CONNECT_TIMEOUT))
        .timeout_send_body(Some(answer))
        .timeout_recv_response(Some(answer))
        .timeout_recv_body(Some(answer))
        .build()
        .new_agent()
}

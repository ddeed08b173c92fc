//! `auth check`: can cxskill get a token, find the API and read the tenant
//! as configured? One token, the API host (discovered or configured), one
//! page of agents and of skills, and the business unit; on failure, which
//! of the usual suspects it is, in words a user can act on.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::json;

use crate::client::{Client, ClientError, EndpointSource, TokenFailure};
use crate::config::{Connection, Credentials, RetryPolicy};

/// Page size of the reads: one page is enough to prove access, and
/// `totalRecords` gives the counts.
const PAGE: u64 = 100;

/// What a successful check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCheck {
    pub api_root: String,
    /// Scheme and host of the API.
    pub api_host: String,
    /// Whether the host was discovered from the token (else configured).
    pub discovered: bool,
    pub area: Option<String>,
    pub cluster: Option<String>,
    pub tenant_id: Option<String>,
    pub business_unit: Option<String>,
    pub token_url: String,
    /// `true` for a pre-issued token, `false` for an access key exchange.
    pub preissued_token: bool,
    /// The tenant's `totalRecords` of `GET /agents`.
    pub agents: Option<u64>,
    /// The tenant's `totalRecords` of `GET /skills`.
    pub skills: Option<u64>,
    /// `expires_in` of the token, in seconds; `None` for a pre-issued
    /// token or an endpoint that does not say.
    pub token_lifetime: Option<u64>,
}

/// Which step failed, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `invalid_grant`, or the API refused a pre-issued token: the access
    /// key id or secret (or the token) is wrong.
    WrongSecret,
    /// `invalid_client`: the client id or secret is wrong.
    WrongClient,
    /// `unauthorized_client`: the client may not use this grant.
    ClientNotAllowed,
    /// The token URL is not a token endpoint (404, or not a token).
    WrongTokenUrl,
    /// Discovery does not know the tenant, or gave an unusable host.
    UnknownTenant,
    /// Authenticated, but not allowed to read agents or skills (403).
    NoPermission,
    /// The token endpoint or the API could not be reached.
    Unreachable,
    /// The API answered in a way that says the API root is wrong.
    WrongApiRoot,
    /// The settings cannot work (no API host can be found).
    Configuration,
}

impl Failure {
    /// A stable name for scripts (`--output json`).
    pub fn name(self) -> &'static str {
        match self {
            Failure::WrongSecret => "wrong_secret",
            Failure::WrongClient => "wrong_client",
            Failure::ClientNotAllowed => "client_not_allowed",
            Failure::WrongTokenUrl => "wrong_token_url",
            Failure::UnknownTenant => "unknown_tenant",
            Failure::NoPermission => "no_permission",
            Failure::Unreachable => "unreachable",
            Failure::WrongApiRoot => "wrong_api_root",
            Failure::Configuration => "configuration",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    pub failure: Failure,
    pub message: String,
}

/// A diagnosis should answer quickly: each request is tried at most twice.
fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        budget: Duration::from_secs(30),
        ..RetryPolicy::default()
    }
}

/// Obtains a token and the API host, then reads one page of agents and one
/// of skills, and the business unit.
pub async fn check(connection: &Connection) -> Result<AuthCheck, AuthError> {
    let mut connection = connection.clone();
    connection.retry = policy();
    let preissued_token = matches!(connection.credentials, Credentials::Token(_));
    let configured_root = connection.api_root();
    let client = Client::connect(&connection).await.map_err(|e| {
        diagnose(
            &e,
            configured_root.as_deref().unwrap_or("(not yet discovered)"),
            preissued_token,
        )
    })?;
    let endpoint = client.endpoint().clone();
    let diagnosed = |e: ClientError| diagnose(&e, &endpoint.api_root, preissued_token);
    let token_lifetime = client.authenticate().await.map_err(diagnosed)?;
    let agents = client.agents_page(PAGE, 0).await.map_err(diagnosed)?;
    let skills = client.skills_page(PAGE, 0).await.map_err(diagnosed)?;
    let probe = skills
        .skills
        .as_ref()
        .and_then(|s| s.first())
        .map(|s| s.skill_id);
    let business_unit = client.business_unit(probe).await.map_err(diagnosed)?;
    let (discovered, area, cluster) = match endpoint.source {
        EndpointSource::Configured => (false, None, None),
        EndpointSource::Discovered { area, cluster } => (true, area, cluster),
    };
    Ok(AuthCheck {
        api_root: endpoint.api_root,
        api_host: endpoint.origin,
        discovered,
        area,
        cluster,
        tenant_id: client.tenant_id(),
        business_unit,
        token_url: connection.token_url.clone(),
        preissued_token,
        agents: agents.total_records,
        skills: skills.total_records,
        token_lifetime,
    })
}

/// The failure behind a client error, and what to check. `preissued` says
/// whether the token was pre-issued rather than exchanged.
pub fn diagnose(error: &ClientError, api_root: &str, preissued: bool) -> AuthError {
    let (failure, message) = match error {
        ClientError::Token { url, kind, reason } => match kind {
            TokenFailure::InvalidGrant | TokenFailure::Refused | TokenFailure::TokenRejected => {
                (Failure::WrongSecret, error.to_string())
            }
            TokenFailure::InvalidClient => (Failure::WrongClient, error.to_string()),
            TokenFailure::UnauthorizedClient => (Failure::ClientNotAllowed, error.to_string()),
            TokenFailure::NotFound | TokenFailure::NotAToken => {
                (Failure::WrongTokenUrl, error.to_string())
            }
            TokenFailure::UnknownTenant | TokenFailure::Discovery => {
                (Failure::UnknownTenant, error.to_string())
            }
            TokenFailure::Unreachable => (
                Failure::Unreachable,
                format!(
                    "cannot reach the token endpoint {url}: {reason}; check the host in the token URL and the network"
                ),
            ),
        },
        ClientError::Forbidden { endpoint, body } => (
            Failure::NoPermission,
            format!(
                "authenticated, but {endpoint} was refused (403 Forbidden: {body}): the access key's user lacks the permission to read agents and skills; give its role the Users and Skills view permissions"
            ),
        ),
        ClientError::Unauthorized { endpoint, body } if preissued => (
            Failure::WrongSecret,
            format!(
                "the API refused the pre-issued token ({endpoint}: 401 Unauthorized: {body}): it has expired, was revoked, or is for another tenant; issue a new one or configure an access key"
            ),
        ),
        ClientError::Unauthorized { endpoint, body } => (
            Failure::WrongSecret,
            format!(
                "the API refused a token the token endpoint had just issued ({endpoint}: 401 Unauthorized: {body}): check that api_base and token_url belong to the same tenant and region"
            ),
        ),
        ClientError::Network {
            endpoint, reason, ..
        } => (
            Failure::Unreachable,
            format!(
                "cannot reach the API at {api_root} ({endpoint}): {reason}; check api_base (if set) and the network"
            ),
        ),
        ClientError::Status {
            endpoint,
            status,
            body,
        } => (
            Failure::WrongApiRoot,
            format!(
                "{api_root} answered {endpoint} with {status}: {body}; check api_base and api_version"
            ),
        ),
        ClientError::Decode { endpoint, reason } | ClientError::Paging { endpoint, reason } => (
            Failure::WrongApiRoot,
            format!(
                "{api_root} answered {endpoint} with something that is not the Admin API ({reason}); check api_base and api_version"
            ),
        ),
        ClientError::TooLarge { .. } => (Failure::WrongApiRoot, error.to_string()),
        ClientError::Config(message) => (Failure::Configuration, message.clone()),
        ClientError::Expired { .. } => (Failure::Unreachable, error.to_string()),
    };
    AuthError { failure, message }
}

impl AuthCheck {
    /// What was found, then one line saying what was done. What the
    /// tenant said is escaped for the terminal.
    pub fn human(&self) -> String {
        use crate::report::terminal_safe as safe;
        fn said<'t>(text: Option<&'t str>, missing: &'static str) -> Cow<'t, str> {
            text.map_or(Cow::Borrowed(missing), safe)
        }
        let how = if self.preissued_token {
            "pre-issued token"
        } else {
            "access key"
        };
        let lifetime = match self.token_lifetime {
            Some(secs) => format!("expires in {secs} s"),
            None if self.preissued_token => "lifetime unknown (pre-issued)".to_owned(),
            None => "lifetime not stated by the token endpoint".to_owned(),
        };
        let host = if self.discovered {
            format!(
                "{}  (discovered: area {}, cluster {})",
                safe(&self.api_host),
                said(self.area.as_deref(), "?"),
                said(self.cluster.as_deref(), "?")
            )
        } else {
            format!("{}  (configured api_base)", safe(&self.api_host))
        };
        let count = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let done = match (self.agents, self.skills) {
            (Some(agents), Some(skills)) => format!(
                "; the tenant has {} and {}",
                crate::report::plural(agents, "agent", "agents"),
                crate::report::plural(skills, "skill", "skills")
            ),
            _ => " and read the tenant".to_owned(),
        };
        format!(
            "\x20 API host       {host}\n\
             \x20 API root       {}\n\
             \x20 tenant         {}\n\
             \x20 business unit  {}\n\
             \x20 token URL      {}\n\
             \x20 agents         {}\n\
             \x20 skills         {}\n\
             \x20 token          {lifetime}\n\
             ok: authenticated with the {how}{done}\n",
            safe(&self.api_root),
            said(self.tenant_id.as_deref(), "(not stated)"),
            said(self.business_unit.as_deref(), "(not stated)"),
            if self.preissued_token {
                "(not used)"
            } else {
                &self.token_url
            },
            count(self.agents),
            count(self.skills),
        )
    }

    pub fn json(&self) -> String {
        let document = json!({
            "ok": true,
            "api_host": self.api_host,
            "api_root": self.api_root,
            "api_host_source": if self.discovered { "discovered" } else { "configured" },
            "area": self.area,
            "cluster": self.cluster,
            "tenant_id": self.tenant_id,
            "business_unit": self.business_unit,
            "token_url": (!self.preissued_token).then_some(&self.token_url),
            "credentials": if self.preissued_token { "token" } else { "access_key" },
            "agents": self.agents,
            "skills": self.skills,
            "token_expires_in": self.token_lifetime,
        });
        format!("{document}\n")
    }
}

impl AuthError {
    pub fn json(&self) -> String {
        let document = json!({
            "ok": false,
            "failure": self.failure.name(),
            "error": self.message,
        });
        format!("{document}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "https://api.example/inContactAPI/services/v34.0";

    #[test]
    fn what_the_tenant_says_reaches_the_terminal_escaped() {
        let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J";
        let check = AuthCheck {
            api_root: ROOT.to_owned(),
            api_host: "https://api.example".to_owned(),
            discovered: true,
            area: Some(hostile.to_owned()),
            cluster: Some(hostile.to_owned()),
            tenant_id: Some(hostile.to_owned()),
            business_unit: Some("12\u{202e}34".to_owned()),
            token_url: "https://auth.example/token".to_owned(),
            preissued_token: false,
            agents: Some(3),
            skills: Some(4),
            token_lifetime: Some(3600),
        };
        let shown = check.human();
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}') && !shown.contains('\u{202e}'),
            "{shown:?}"
        );
        assert!(shown.contains("owned"), "{shown}");
        assert_eq!(shown.lines().count(), 9, "{shown}");
    }

    #[test]
    fn each_client_error_maps_to_its_failure() {
        let token = |kind| ClientError::Token {
            url: "https://auth.example/token".into(),
            kind,
            reason: "why".into(),
        };
        let cases = [
            (token(TokenFailure::InvalidGrant), Failure::WrongSecret),
            (token(TokenFailure::InvalidClient), Failure::WrongClient),
            (
                token(TokenFailure::UnauthorizedClient),
                Failure::ClientNotAllowed,
            ),
            (token(TokenFailure::NotFound), Failure::WrongTokenUrl),
            (token(TokenFailure::NotAToken), Failure::WrongTokenUrl),
            (token(TokenFailure::UnknownTenant), Failure::UnknownTenant),
            (token(TokenFailure::Unreachable), Failure::Unreachable),
            (
                ClientError::Forbidden {
                    endpoint: "GET /agents?top=100&skip=0".into(),
                    body: "{\"error\":\"insufficient_scope\"}".into(),
                },
                Failure::NoPermission,
            ),
            (
                ClientError::Network {
                    endpoint: "GET /agents".into(),
                    reason: "cannot connect".into(),
                    attempts: 2,
                    maybe_sent: false,
                },
                Failure::Unreachable,
            ),
            (
                ClientError::Status {
                    endpoint: "GET /agents".into(),
                    status: 404,
                    body: String::new(),
                },
                Failure::WrongApiRoot,
            ),
            (
                ClientError::Config("no host".into()),
                Failure::Configuration,
            ),
        ];
        for (error, failure) in cases {
            assert_eq!(diagnose(&error, ROOT, false).failure, failure, "{error}");
        }
        let forbidden = diagnose(
            &ClientError::Forbidden {
                endpoint: "GET /agents?top=100&skip=0".into(),
                body: "insufficient_scope".into(),
            },
            ROOT,
            false,
        );
        assert!(forbidden.message.contains("403"), "{}", forbidden.message);
        assert!(
            forbidden.message.contains("permission"),
            "{}",
            forbidden.message
        );
    }
}

//! IAM principal ARNs from `line_item_iam_principal` → kind, name and session. Pure; no I/O.
//!
//! Forms (AWS ML blog "Introducing granular cost attribution for Amazon Bedrock", 2026-04-17;
//! Bedrock User Guide "IAM principal cost tracking"; IAM User Guide "IAM identifiers",
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html>):
//! `arn:aws:iam::123456789012:user/alice`, API keys as `…:user/BedrockAPIKey-234s`, roles as
//! `arn:aws:sts::123456789012:assumed-role/Role-1/session-123`, federated users as
//! `…:assumed-role/BedrockRole/user-1@acme.org`; likely too: users with paths, `root`,
//! `federated-user/<name>`, and the role ARN `arn:aws:iam::…:role/<name>`.

/// Label value used for rows whose principal is empty or NULL.
pub const UNATTRIBUTED: &str = "unattributed";

/// The kind of caller behind a line item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    User,
    /// An IAM user created for a long-term Amazon Bedrock API key (`user/BedrockAPIKey-…`).
    BedrockApiKey,
    AssumedRole,
    Role,
    FederatedUser,
    Root,
    Unattributed,
    /// Something we could not parse; the raw value is still the `principal` label.
    Unknown,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::BedrockApiKey => "bedrock_api_key",
            PrincipalKind::AssumedRole => "assumed_role",
            PrincipalKind::Role => "role",
            PrincipalKind::FederatedUser => "federated_user",
            PrincipalKind::Root => "root",
            PrincipalKind::Unattributed => "unattributed",
            PrincipalKind::Unknown => "unknown",
        }
    }
}

/// What a principal ARN says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal<'a> {
    pub kind: PrincipalKind,
    /// User name (without path), role name, federated user name; `""` for root and unattributed.
    pub name: &'a str,
    /// Role session name (assumed roles only), e.g. an e-mail address for IdP federation.
    pub session: &'a str,
}

/// Parses a `line_item_iam_principal` value. `None` and `""` are unattributed.
pub fn parse<'a>(arn: Option<&'a str>) -> Principal<'a> {
    let arn = arn.map(str::trim).unwrap_or("");
    if arn.is_empty() {
        return Principal {
            kind: PrincipalKind::Unattributed,
            name: "",
            session: "",
        };
    }
    let unknown = Principal {
        kind: PrincipalKind::Unknown,
        name: "",
        session: "",
    };
    // arn:partition:service:region:account:resource — the resource may itself contain ':'.
    let mut parts = arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(_partition),
        Some(service),
        Some(_region),
        Some(_account),
        Some(resource),
    ) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    )
    else {
        return unknown;
    };
    if resource == "root" {
        return Principal {
            kind: PrincipalKind::Root,
            name: "",
            session: "",
        };
    }
    let Some((kind, path)) = resource.split_once('/') else {
        return unknown;
    };
    let last = |p: &'a str| p.rsplit('/').next().unwrap_or(p);
    match (service, kind) {
        ("iam", "user") => {
            let name = last(path);
            let kind = if name.starts_with("BedrockAPIKey-") {
                PrincipalKind::BedrockApiKey
            } else {
                PrincipalKind::User
            };
            Principal {
                kind,
                name,
                session: "",
            }
        }
        ("iam", "role") => Principal {
            kind: PrincipalKind::Role,
            name: last(path),
            session: "",
        },
        ("sts", "assumed-role") => match path.split_once('/') {
            Some((role, session)) => Principal {
                kind: PrincipalKind::AssumedRole,
                name: role,
                session,
            },
            None => Principal {
                kind: PrincipalKind::AssumedRole,
                name: path,
                session: "",
            },
        },
        ("sts", "federated-user") => Principal {
            kind: PrincipalKind::FederatedUser,
            name: path,
            session: "",
        },
        _ => unknown,
    }
}

/// The principal with its role session removed, for the `fold_sessions` option:
/// `arn:aws:sts::1:assumed-role/Role/alice@acme.org` → `arn:aws:sts::1:assumed-role/Role/*`.
/// Other principals are returned unchanged.
pub fn fold_session(arn: &str) -> std::borrow::Cow<'_, str> {
    let p = parse(Some(arn));
    if p.kind == PrincipalKind::AssumedRole && !p.session.is_empty() {
        let cut = arn.len() - p.session.len();
        std::borrow::Cow::Owned(format!("{}*", &arn[..cut]))
    } else {
        std::borrow::Cow::Borrowed(arn)
    }
}

#[cfg(test)]
mod tests {
    use super::PrincipalKind::*;
    use super::*;

    /// Every principal form quoted by the launch blog (its sample tables and four access patterns),
    /// the Bedrock and Billing user guides' IAM principal pages, and the IAM identifiers page.
    #[rustfmt::skip]
    const TABLE: &[(&str, PrincipalKind, &str, &str)] = &[
        ("arn:aws:iam::123456789012:user/alice", User, "alice", ""),
        ("arn:aws:iam::123456789012:user/bob", User, "bob", ""),
        ("arn:aws:iam::123456789012:user/BedrockAPIKey-234s", BedrockApiKey, "BedrockAPIKey-234s", ""),
        ("arn:aws:iam::123456789012:user/BedrockAPIKey-d3qp", BedrockApiKey, "BedrockAPIKey-d3qp", ""),
        ("arn:aws:sts::123456789012:assumed-role/AppRole/session", AssumedRole, "AppRole", "session"),
        ("arn:aws:sts::123456789012:assumed-role/Role-1/session-123", AssumedRole, "Role-1", "session-123"),
        ("arn:aws:sts::123456789012:assumed-role/Role/user@acme.org", AssumedRole, "Role", "user@acme.org"),
        ("arn:aws:sts::123456789012:assumed-role/BedrockRole/user-1@acme.org", AssumedRole, "BedrockRole", "user-1@acme.org"),
        ("arn:aws:sts::123456789012:assumed-role/BedrockRole/gw-user-1", AssumedRole, "BedrockRole", "gw-user-1"),
        ("arn:aws:sts::123456789012:assumed-role/BedrockRole/gw-tenant-acme", AssumedRole, "BedrockRole", "gw-tenant-acme"),
        ("arn:aws:sts::123456789012:assumed-role/DocProcessor/batch-7", AssumedRole, "DocProcessor", "batch-7"),
        ("arn:aws:iam::123456789012:role/application-role", Role, "application-role", ""),
        ("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DataScience_0123456789abcdef/jane@acme.org", AssumedRole, "AWSReservedSSO_DataScience_0123456789abcdef", "jane@acme.org"),
        ("arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/Name", User, "Name", ""),
        ("arn:aws:iam::123456789012:root", Root, "", ""),
        ("arn:aws:sts::123456789012:federated-user/carol", FederatedUser, "carol", ""),
        ("arn:aws-us-gov:iam::123456789012:user/alice", User, "alice", ""),
        ("arn:aws-cn:sts::123456789012:assumed-role/R/s", AssumedRole, "R", "s"),
        ("", Unattributed, "", ""),
        ("  ", Unattributed, "", ""),
        ("not-an-arn", Unknown, "", ""),
        ("arn:aws:s3:::bucket/key", Unknown, "", ""),
    ];

    #[test]
    fn every_reference_principal() {
        for &(arn, kind, name, session) in TABLE {
            let p = parse(Some(arn));
            assert_eq!((p.kind, p.name, p.session), (kind, name, session), "{arn}");
        }
        assert_eq!(parse(None).kind, Unattributed);
    }

    #[test]
    fn folding_keeps_the_role_and_drops_the_session() {
        assert_eq!(
            fold_session("arn:aws:sts::123456789012:assumed-role/BedrockRole/user-1@acme.org"),
            "arn:aws:sts::123456789012:assumed-role/BedrockRole/*"
        );
        assert_eq!(
            fold_session("arn:aws:iam::123456789012:user/alice"),
            "arn:aws:iam::123456789012:user/alice"
        );
    }
}

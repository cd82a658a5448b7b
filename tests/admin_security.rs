//! The admin client's ACL and SCRAM-credential calls against the real secured broker.
//! The admin client connects over PLAINTEXT, whose principal (ANONYMOUS) is a super user;
//! the credentials it makes are then checked by authenticating with them over the
//! SASL_PLAINTEXT listener (a raw socket, independent of the client's connection layer).

mod common;
mod secured;

use std::time::Duration;

use kafka_sync::admin::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient, PatternType,
    ResourcePattern, ResourceType, ScramMechanism, UserScramCredentialAlteration,
};
use kafka_sync::sasl_exchange::SaslExchange;
use kafka_sync::ErrorCode;
use secured::{sasl_plaintext_bootstrap, RawConnection};

/// How long a change the controller committed may take to reach the broker's caches.
const PROPAGATION: Duration = Duration::from_secs(15);

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap()
}

fn sorted(mut acls: Vec<AclBinding>) -> Vec<AclBinding> {
    acls.sort();
    acls
}

#[test]
fn acls_are_created_described_and_deleted() {
    let admin = admin();
    let principal = format!("User:{}", common::unique_name("acl-user"));
    let topic = common::unique_name("acl-topic");
    let write = AclBinding::new(
        ResourcePattern::topic(&topic),
        &principal,
        AclOperation::Write,
        AclPermissionType::Allow,
    );
    let read_prefixed = AclBinding::new(
        ResourcePattern::new(ResourceType::Group, "acl-group-", PatternType::Prefixed),
        &principal,
        AclOperation::Read,
        AclPermissionType::Deny,
    )
    .host("127.0.0.1");
    let created = admin
        .create_acls(&[write.clone(), read_prefixed.clone()])
        .unwrap();
    assert_eq!(created.len(), 2);
    for (acl, result) in &created {
        assert!(result.is_ok(), "{acl:?}: {result:?}");
    }

    let by_principal = AclBindingFilter::any().principal(&principal);
    let expected = sorted(vec![write.clone(), read_prefixed.clone()]);
    common::wait_for("the created ACLs to be described", PROPAGATION, || {
        (sorted(admin.describe_acls(&by_principal).unwrap()) == expected).then_some(())
    });
    // A Match filter finds the topic's literal ACL by the topic's name.
    let on_topic = admin
        .describe_acls(&AclBindingFilter::matching(ResourceType::Topic, &topic))
        .unwrap();
    assert!(on_topic.contains(&write), "{on_topic:?}");

    let deleted = admin
        .delete_acls(&[write.to_filter(), by_principal.clone()])
        .unwrap();
    assert_eq!(deleted.len(), 2);
    let first: Vec<AclBinding> = deleted[0]
        .1
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| r.clone().unwrap())
        .collect();
    assert_eq!(first, vec![write.clone()]);
    // The broker applies the filters in one go: the second also reports the write ACL.
    let second: Vec<AclBinding> = deleted[1]
        .1
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| r.clone().unwrap())
        .collect();
    assert!(second.contains(&read_prefixed), "{second:?}");
    common::wait_for("the deleted ACLs to be gone", PROPAGATION, || {
        admin
            .describe_acls(&by_principal)
            .unwrap()
            .is_empty()
            .then_some(())
    });
}

#[test]
fn an_invalid_acl_is_refused_on_its_own() {
    let admin = admin();
    let good = AclBinding::new(
        ResourcePattern::topic(common::unique_name("acl-ok")),
        format!("User:{}", common::unique_name("u")),
        AclOperation::Read,
        AclPermissionType::Allow,
    );
    // A principal without the `Type:` prefix is not valid.
    let bad = AclBinding::new(
        ResourcePattern::topic("t"),
        "alice",
        AclOperation::Read,
        AclPermissionType::Allow,
    );
    let results = admin.create_acls(&[good.clone(), bad]).unwrap();
    assert!(results[0].1.is_ok(), "{results:?}");
    let err = results[1].1.as_ref().unwrap_err();
    assert!(err.code().is_some(), "{err:?}");
    admin.delete_acls(&[good.to_filter()]).unwrap();
}

fn scram_authenticates(bits: u16, user: &str, password: &str) -> Result<(), ErrorCode> {
    let mut conn = RawConnection::connect(&sasl_plaintext_bootstrap());
    conn.authenticate(SaslExchange::scram(bits, user, password))
        .map_err(|r| r.code)
}

#[test]
fn scram_credentials_are_created_used_and_deleted() {
    let admin = admin();
    let user = common::unique_name("scram-user");
    let password = "a-fresh-secret";
    // The broker takes one alteration per user and request (DUPLICATE_RESOURCE otherwise).
    for upsertion in [
        UserScramCredentialAlteration::upsert(&user, ScramMechanism::ScramSha512, password)
            .iterations(8192),
        UserScramCredentialAlteration::upsert(&user, ScramMechanism::ScramSha256, password),
    ] {
        let results = admin.alter_user_scram_credentials(&[upsertion]).unwrap();
        assert!(results[&user].is_ok(), "{results:?}");
    }

    let described = admin.describe_user_scram_credentials(&[&user]).unwrap();
    let mut infos = described[&user].clone().unwrap();
    infos.sort_by_key(|i| i.mechanism);
    let got: Vec<(ScramMechanism, i32)> =
        infos.iter().map(|i| (i.mechanism, i.iterations)).collect();
    assert_eq!(
        got,
        vec![
            (ScramMechanism::ScramSha256, 4096),
            (ScramMechanism::ScramSha512, 8192)
        ]
    );
    // Every user with credentials, the brief's own among them.
    let all = admin.describe_user_scram_credentials(&[]).unwrap();
    assert!(
        all.contains_key("alice") && all.contains_key(&user),
        "{all:?}"
    );

    // The new user logs in with both mechanisms; a wrong password does not.
    common::wait_for(
        "the new credential to reach the broker",
        PROPAGATION,
        || scram_authenticates(512, &user, password).ok(),
    );
    scram_authenticates(256, &user, password).unwrap();
    assert_eq!(
        scram_authenticates(512, &user, "wrong"),
        Err(ErrorCode::SASL_AUTHENTICATION_FAILED)
    );

    // Deleting the SCRAM-SHA-512 credential ends those logins, and only those.
    let results = admin
        .alter_user_scram_credentials(&[UserScramCredentialAlteration::delete(
            &user,
            ScramMechanism::ScramSha512,
        )])
        .unwrap();
    assert!(results[&user].is_ok(), "{results:?}");
    common::wait_for("the deletion to reach the broker", PROPAGATION, || {
        scram_authenticates(512, &user, password)
            .is_err()
            .then_some(())
    });
    assert_eq!(
        scram_authenticates(512, &user, password),
        Err(ErrorCode::SASL_AUTHENTICATION_FAILED)
    );
    scram_authenticates(256, &user, password).unwrap();

    // Deleting what is not there is that user's error.
    let results = admin
        .alter_user_scram_credentials(&[UserScramCredentialAlteration::delete(
            &user,
            ScramMechanism::ScramSha512,
        )])
        .unwrap();
    assert_eq!(
        results[&user].as_ref().unwrap_err().code(),
        Some(ErrorCode::RESOURCE_NOT_FOUND)
    );
    admin
        .alter_user_scram_credentials(&[UserScramCredentialAlteration::delete(
            &user,
            ScramMechanism::ScramSha256,
        )])
        .unwrap()[&user]
        .clone()
        .unwrap();
    let described = admin.describe_user_scram_credentials(&[&user]).unwrap();
    assert_eq!(
        described[&user].as_ref().unwrap_err().code(),
        Some(ErrorCode::RESOURCE_NOT_FOUND)
    );
}

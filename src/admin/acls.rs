//! Creating, describing and deleting ACLs (CreateAcls, DescribeAcls, DeleteAcls), as
//! kafka-python 3.x's `create_acls`, `describe_acls` and `delete_acls`. Any broker takes
//! them (it forwards to the controller); the authorizer must be enabled.

use crate::error::{Error, Result};
use crate::net::rpc::Target;
use crate::protocol::api::create_acls::{AclCreation, CreateAclsRequest, CreateAclsResponse};
use crate::protocol::api::delete_acls::{
    DeleteAclsFilter, DeleteAclsMatchingAcl, DeleteAclsRequest, DeleteAclsResponse,
};
use crate::protocol::api::describe_acls::{DescribeAclsRequest, DescribeAclsResponse};
use crate::protocol::error_code::ErrorCode;

use super::acl_types::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourcePattern,
    ResourceType,
};
use super::AdminClient;

/// The error for an ACL call's code: a refusal names the cluster operation.
fn acl_error(code: i16, message: Option<String>, operation: &str) -> Result<()> {
    match code {
        0 => Ok(()),
        code => Err(Error::for_resource(ErrorCode(code), message, operation)),
    }
}

/// CreateAcls and DeleteAcls answer in the order asked, one result per item.
fn one_result_each(api: &str, answered: usize, asked: usize) -> Result<()> {
    if answered == asked {
        Ok(())
    } else {
        Err(Error::Protocol(format!(
            "{api} answered {answered} results for {asked} items"
        )))
    }
}

fn creation(acl: &AclBinding) -> AclCreation {
    AclCreation {
        resource_type: acl.pattern.resource_type.as_i8(),
        resource_name: acl.pattern.name.clone(),
        resource_pattern_type: acl.pattern.pattern_type.as_i8(),
        principal: acl.principal.clone(),
        host: acl.host.clone(),
        operation: acl.operation.as_i8(),
        permission_type: acl.permission_type.as_i8(),
    }
}

fn describe_request(f: &AclBindingFilter) -> DescribeAclsRequest {
    DescribeAclsRequest {
        resource_type_filter: f.resource_type.as_i8(),
        resource_name_filter: f.name.clone(),
        pattern_type_filter: f.pattern_type.as_i8(),
        principal_filter: f.principal.clone(),
        host_filter: f.host.clone(),
        operation: f.operation.as_i8(),
        permission_type: f.permission_type.as_i8(),
    }
}

fn delete_filter(f: &AclBindingFilter) -> DeleteAclsFilter {
    DeleteAclsFilter {
        resource_type_filter: f.resource_type.as_i8(),
        resource_name_filter: f.name.clone(),
        pattern_type_filter: f.pattern_type.as_i8(),
        principal_filter: f.principal.clone(),
        host_filter: f.host.clone(),
        operation: f.operation.as_i8(),
        permission_type: f.permission_type.as_i8(),
    }
}

fn deleted_binding(m: DeleteAclsMatchingAcl) -> Result<AclBinding> {
    acl_error(m.error_code, m.error_message, "delete ACLs")?;
    Ok(AclBinding {
        pattern: ResourcePattern::new(
            ResourceType::from_i8(m.resource_type),
            m.resource_name,
            PatternType::from_i8(m.pattern_type),
        ),
        principal: m.principal,
        host: m.host,
        operation: AclOperation::from_i8(m.operation),
        permission_type: AclPermissionType::from_i8(m.permission_type),
    })
}

impl AdminClient {
    /// Creates ACLs. Returns each binding's result in the order given: `Ok(())`, or its
    /// error (`ClusterAuthorization` without ALTER on the cluster, `SECURITY_DISABLED`
    /// without an authorizer, `INVALID_REQUEST` for a binding that is not valid).
    /// Creating an ACL that exists already succeeds.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::{AclBinding, AclOperation, AclPermissionType, ResourcePattern};
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let acl = AclBinding::new(
    ///     ResourcePattern::topic("orders"),
    ///     "User:alice",
    ///     AclOperation::Write,
    ///     AclPermissionType::Allow,
    /// );
    /// for (acl, result) in admin.create_acls(&[acl])? {
    ///     result?;
    ///     println!("created {acl:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn create_acls(&self, acls: &[AclBinding]) -> Result<Vec<(AclBinding, Result<()>)>> {
        if acls.is_empty() {
            return Ok(Vec::new());
        }
        let deadline = self.deadline(None);
        let make = || CreateAclsRequest {
            creations: acls.iter().map(creation).collect(),
        };
        let (_, resp): (_, CreateAclsResponse) =
            self.call(Target::Any, make, None, deadline, "a CreateAcls response")?;
        one_result_each("CreateAcls", resp.results.len(), acls.len())?;
        Ok(acls
            .iter()
            .cloned()
            .zip(resp.results)
            .map(|(acl, r)| (acl, acl_error(r.error_code, r.error_message, "create ACLs")))
            .collect())
    }

    /// The ACLs that `filter` selects, as kafka-python's `describe_acls`.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::{AclBindingFilter, ResourceType};
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for acl in admin.describe_acls(&AclBindingFilter::matching(ResourceType::Topic, "orders"))? {
    ///     println!("{} {:?} {:?}", acl.principal, acl.permission_type, acl.operation);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>> {
        let deadline = self.deadline(None);
        let (_, resp): (_, DescribeAclsResponse) = self.call(
            Target::Any,
            || describe_request(filter),
            None,
            deadline,
            "a DescribeAcls response",
        )?;
        acl_error(resp.error_code, resp.error_message, "describe ACLs")?;
        let mut out = Vec::new();
        for r in resp.resources {
            let pattern = ResourcePattern::new(
                ResourceType::from_i8(r.resource_type),
                r.resource_name,
                PatternType::from_i8(r.pattern_type),
            );
            out.extend(r.acls.into_iter().map(|a| AclBinding {
                pattern: pattern.clone(),
                principal: a.principal,
                host: a.host,
                operation: AclOperation::from_i8(a.operation),
                permission_type: AclPermissionType::from_i8(a.permission_type),
            }));
        }
        Ok(out)
    }

    /// Deletes the ACLs each filter selects, as kafka-python's `delete_acls`. Returns,
    /// per filter in the order given, the ACLs it deleted (each `Ok`, or the error that
    /// kept it), or the filter's error.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::AclBindingFilter;
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let every_acl_of_alice = AclBindingFilter::any().principal("User:alice");
    /// for (_, deleted) in admin.delete_acls(&[every_acl_of_alice])? {
    ///     println!("deleted {} ACLs", deleted?.len());
    /// }
    /// # Ok(()) }
    /// ```
    #[allow(clippy::type_complexity)] // (filter, its ACLs) pairs, as kafka-python returns
    pub fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<(AclBindingFilter, Result<Vec<Result<AclBinding>>>)>> {
        if filters.is_empty() {
            return Ok(Vec::new());
        }
        let deadline = self.deadline(None);
        let make = || DeleteAclsRequest {
            filters: filters.iter().map(delete_filter).collect(),
        };
        let (_, resp): (_, DeleteAclsResponse) =
            self.call(Target::Any, make, None, deadline, "a DeleteAcls response")?;
        one_result_each("DeleteAcls", resp.filter_results.len(), filters.len())?;
        Ok(filters
            .iter()
            .cloned()
            .zip(resp.filter_results)
            .map(|(filter, r)| {
                let deleted = acl_error(r.error_code, r.error_message, "delete ACLs")
                    .map(|()| r.matching_acls.into_iter().map(deleted_binding).collect());
                (filter, deleted)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_and_filters_map_to_the_wire_codes() {
        let acl = AclBinding::new(
            ResourcePattern::new(ResourceType::Group, "g-", PatternType::Prefixed),
            "User:alice",
            AclOperation::Read,
            AclPermissionType::Deny,
        )
        .host("10.0.0.1");
        let c = creation(&acl);
        assert_eq!(
            (
                c.resource_type,
                c.resource_pattern_type,
                c.operation,
                c.permission_type
            ),
            (3, 4, 3, 2)
        );
        assert_eq!(
            (c.principal.as_str(), c.host.as_str()),
            ("User:alice", "10.0.0.1")
        );
        let d = describe_request(&AclBindingFilter::any());
        assert_eq!(
            (d.resource_type_filter, d.pattern_type_filter, d.operation),
            (1, 1, 1)
        );
        assert_eq!(d.resource_name_filter, None);
        let f = delete_filter(&acl.to_filter());
        assert_eq!(f.resource_name_filter.as_deref(), Some("g-"));
    }

    #[test]
    fn a_refused_deletion_names_the_operation() {
        let m = DeleteAclsMatchingAcl {
            error_code: ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
            ..Default::default()
        };
        let e = deleted_binding(m).unwrap_err();
        assert!(
            matches!(&e, Error::ClusterAuthorization { operation } if operation == "delete ACLs")
        );
        let ok = deleted_binding(DeleteAclsMatchingAcl {
            resource_type: 2,
            resource_name: "t".into(),
            pattern_type: 3,
            principal: "User:a".into(),
            host: "*".into(),
            operation: 4,
            permission_type: 3,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.pattern, ResourcePattern::topic("t"));
        assert_eq!(ok.operation, AclOperation::Write);
    }
}

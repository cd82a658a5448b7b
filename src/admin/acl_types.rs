//! The ACL vocabulary, with the Java admin client's names (kafka-python 3.x names them
//! the same): a [`ResourcePattern`] and who may do what on it make an [`AclBinding`]; an
//! [`AclBindingFilter`] selects bindings to describe or delete.

/// Defines an enum over the protocol's `i8` codes, with `Unknown` for codes this client
/// does not know (a newer broker's), so decoding never fails.
macro_rules! acl_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            /// A code this client does not know (never sent).
            Unknown,
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The protocol's code.
            pub fn as_i8(self) -> i8 {
                match self {
                    $name::Unknown => 0,
                    $($name::$variant => $code,)*
                }
            }

            /// The value of a protocol code; `Unknown` for codes this client does not know.
            pub fn from_i8(code: i8) -> Self {
                match code {
                    $($code => $name::$variant,)*
                    _ => $name::Unknown,
                }
            }
        }
    };
}

acl_enum! {
    /// The kind of resource an ACL is on.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::admin::ResourceType;
    /// assert_eq!(ResourceType::from_i8(2), ResourceType::Topic);
    /// assert_eq!(ResourceType::Group.as_i8(), 3);
    /// ```
    ResourceType {
        /// Any resource type (filters only).
        Any = 1,
        /// A topic.
        Topic = 2,
        /// A consumer group.
        Group = 3,
        /// The cluster (its one resource is named `kafka-cluster`).
        Cluster = 4,
        /// A transactional id.
        TransactionalId = 5,
        /// A delegation token.
        DelegationToken = 6,
        /// A user (for CreateTokens / DescribeTokens).
        User = 7,
    }
}

acl_enum! {
    /// How a [`ResourcePattern`]'s name matches resource names.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::admin::PatternType;
    /// assert_eq!(PatternType::Prefixed.as_i8(), 4);
    /// ```
    PatternType {
        /// Any pattern type (filters only).
        Any = 1,
        /// Every pattern that matches the filter's name: literal, wildcard or prefix
        /// (filters only).
        Match = 2,
        /// The name exactly, or every resource for the name `*`.
        Literal = 3,
        /// Every resource whose name starts with the name.
        Prefixed = 4,
    }
}

acl_enum! {
    /// What an ACL allows or denies.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::admin::AclOperation;
    /// assert_eq!(AclOperation::from_i8(4), AclOperation::Write);
    /// ```
    AclOperation {
        /// Any operation (filters only).
        Any = 1,
        /// Every operation.
        All = 2,
        /// Read (consume, commit, join a group).
        Read = 3,
        /// Write (produce).
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe.
        Describe = 8,
        /// Cluster actions (inter-broker).
        ClusterAction = 9,
        /// Describe configs.
        DescribeConfigs = 10,
        /// Alter configs.
        AlterConfigs = 11,
        /// Idempotent produce.
        IdempotentWrite = 12,
        /// Create delegation tokens.
        CreateTokens = 13,
        /// Describe delegation tokens.
        DescribeTokens = 14,
        /// Two-phase commit (KIP-939).
        TwoPhaseCommit = 15,
    }
}

acl_enum! {
    /// Whether an ACL allows or denies.
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::admin::AclPermissionType;
    /// assert_eq!(AclPermissionType::Allow.as_i8(), 3);
    /// ```
    AclPermissionType {
        /// Either (filters only).
        Any = 1,
        /// Denies; a deny wins over any allow.
        Deny = 2,
        /// Allows.
        Allow = 3,
    }
}

/// A resource, or a set of resources, that ACLs are attached to.
///
/// # Examples
/// ```
/// use kafka_sync::admin::{PatternType, ResourcePattern, ResourceType};
/// let p = ResourcePattern::new(ResourceType::Topic, "orders-", PatternType::Prefixed);
/// assert_eq!(ResourcePattern::topic("orders").pattern_type, PatternType::Literal);
/// assert_eq!(ResourcePattern::cluster().name, "kafka-cluster");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePattern {
    /// The kind of resource.
    pub resource_type: ResourceType,
    /// The name (`*` with `Literal` is every resource of the type).
    pub name: String,
    /// How the name matches.
    pub pattern_type: PatternType,
}

impl ResourcePattern {
    /// A pattern of the given type.
    pub fn new(
        resource_type: ResourceType,
        name: impl Into<String>,
        pattern_type: PatternType,
    ) -> ResourcePattern {
        ResourcePattern {
            resource_type,
            name: name.into(),
            pattern_type,
        }
    }

    /// The topic `name`, literally.
    pub fn topic(name: impl Into<String>) -> ResourcePattern {
        Self::new(ResourceType::Topic, name, PatternType::Literal)
    }

    /// The consumer group `id`, literally.
    pub fn group(id: impl Into<String>) -> ResourcePattern {
        Self::new(ResourceType::Group, id, PatternType::Literal)
    }

    /// The transactional id `id`, literally.
    pub fn transactional_id(id: impl Into<String>) -> ResourcePattern {
        Self::new(ResourceType::TransactionalId, id, PatternType::Literal)
    }

    /// The cluster.
    pub fn cluster() -> ResourcePattern {
        Self::new(ResourceType::Cluster, "kafka-cluster", PatternType::Literal)
    }
}

/// An ACL: `principal` from `host` is allowed or denied `operation` on `pattern`.
///
/// # Examples
/// ```
/// use kafka_sync::admin::{AclBinding, AclOperation, AclPermissionType, ResourcePattern};
/// let acl = AclBinding::new(
///     ResourcePattern::topic("orders"),
///     "User:alice",
///     AclOperation::Write,
///     AclPermissionType::Allow,
/// );
/// assert_eq!(acl.host, "*");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// The resources.
    pub pattern: ResourcePattern,
    /// The principal, as `User:alice`.
    pub principal: String,
    /// The client host it applies to; `*` for every host.
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission_type: AclPermissionType,
}

impl AclBinding {
    /// An ACL from any host.
    pub fn new(
        pattern: ResourcePattern,
        principal: impl Into<String>,
        operation: AclOperation,
        permission_type: AclPermissionType,
    ) -> AclBinding {
        AclBinding {
            pattern,
            principal: principal.into(),
            host: "*".into(),
            operation,
            permission_type,
        }
    }

    /// Restricts the ACL to one client host.
    pub fn host(mut self, host: impl Into<String>) -> AclBinding {
        self.host = host.into();
        self
    }

    /// The filter that matches exactly this ACL (to delete it).
    ///
    /// # Examples
    /// ```
    /// use kafka_sync::admin::{AclBinding, AclOperation, AclPermissionType, ResourcePattern};
    /// let acl = AclBinding::new(ResourcePattern::group("g"), "User:bob", AclOperation::Read, AclPermissionType::Allow);
    /// assert!(acl.to_filter().matches(&acl));
    /// ```
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.pattern.resource_type,
            name: Some(self.pattern.name.clone()),
            pattern_type: self.pattern.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission_type: self.permission_type,
        }
    }
}

/// Selects ACLs: each field narrows the selection; `None` and the `Any` values match
/// everything.
///
/// # Examples
/// ```
/// use kafka_sync::admin::{AclBindingFilter, AclOperation, ResourceType};
/// // Every ACL of User:alice on topics.
/// let filter = AclBindingFilter::any()
///     .resource_type(ResourceType::Topic)
///     .principal("User:alice");
/// // Every ACL that applies to the group "billing", however it is written.
/// let filter = AclBindingFilter::matching(ResourceType::Group, "billing");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBindingFilter {
    /// The kind of resource.
    pub resource_type: ResourceType,
    /// The resource name, or any.
    pub name: Option<String>,
    /// The pattern type (`Match`: every pattern that covers `name`).
    pub pattern_type: PatternType,
    /// The principal, or any.
    pub principal: Option<String>,
    /// The host, or any.
    pub host: Option<String>,
    /// The operation.
    pub operation: AclOperation,
    /// Allow, deny or either.
    pub permission_type: AclPermissionType,
}

impl AclBindingFilter {
    /// Matches every ACL.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission_type: AclPermissionType::Any,
        }
    }

    /// Matches every ACL that applies to the resource `name` of `resource_type`: literal,
    /// wildcard and prefixed ones (`PatternType::Match`).
    pub fn matching(resource_type: ResourceType, name: impl Into<String>) -> AclBindingFilter {
        AclBindingFilter {
            resource_type,
            name: Some(name.into()),
            pattern_type: PatternType::Match,
            ..Self::any()
        }
    }

    /// Narrows to a resource type.
    pub fn resource_type(mut self, resource_type: ResourceType) -> Self {
        self.resource_type = resource_type;
        self
    }

    /// Narrows to a resource name with its pattern type.
    pub fn resource(mut self, name: impl Into<String>, pattern_type: PatternType) -> Self {
        self.name = Some(name.into());
        self.pattern_type = pattern_type;
        self
    }

    /// Narrows to a principal, as `User:alice`.
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// Narrows to a host.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Narrows to an operation.
    pub fn operation(mut self, operation: AclOperation) -> Self {
        self.operation = operation;
        self
    }

    /// Narrows to allow or deny.
    pub fn permission_type(mut self, permission_type: AclPermissionType) -> Self {
        self.permission_type = permission_type;
        self
    }

    /// True if `acl` is selected, comparing field by field (a `Match` filter is
    /// resolved by the broker, which knows the wildcard and prefix rules; here it
    /// matches the literal name only).
    pub fn matches(&self, acl: &AclBinding) -> bool {
        let p = &acl.pattern;
        let any_pattern = matches!(self.pattern_type, PatternType::Any | PatternType::Match);
        (self.resource_type == ResourceType::Any || self.resource_type == p.resource_type)
            && self.name.as_ref().is_none_or(|n| *n == p.name)
            && (any_pattern || self.pattern_type == p.pattern_type)
            && self.principal.as_ref().is_none_or(|x| *x == acl.principal)
            && self.host.as_ref().is_none_or(|x| *x == acl.host)
            && (self.operation == AclOperation::Any || self.operation == acl.operation)
            && (self.permission_type == AclPermissionType::Any
                || self.permission_type == acl.permission_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_decode() {
        for code in 0..=15 {
            let op = AclOperation::from_i8(code);
            assert_eq!(op.as_i8(), code);
        }
        assert_eq!(AclOperation::from_i8(99), AclOperation::Unknown);
        assert_eq!(ResourceType::from_i8(-1), ResourceType::Unknown);
        assert_eq!(PatternType::from_i8(3), PatternType::Literal);
        assert_eq!(AclPermissionType::from_i8(2), AclPermissionType::Deny);
    }

    #[test]
    fn filters_select_by_each_field() {
        let acl = AclBinding::new(
            ResourcePattern::topic("t"),
            "User:alice",
            AclOperation::Write,
            AclPermissionType::Allow,
        );
        assert!(AclBindingFilter::any().matches(&acl));
        assert!(acl.to_filter().matches(&acl));
        assert!(AclBindingFilter::matching(ResourceType::Topic, "t").matches(&acl));
        assert!(!AclBindingFilter::matching(ResourceType::Group, "t").matches(&acl));
        assert!(!AclBindingFilter::any().principal("User:bob").matches(&acl));
        assert!(!AclBindingFilter::any()
            .operation(AclOperation::Read)
            .matches(&acl));
        assert!(!AclBindingFilter::any()
            .resource("t", PatternType::Prefixed)
            .matches(&acl));
        assert!(!acl.to_filter().host("10.0.0.1").matches(&acl));
    }
}

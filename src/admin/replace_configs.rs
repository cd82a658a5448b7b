//! Replacing a resource's whole set of dynamic configs (AlterConfigs, the
//! non-incremental call): every config not named goes back to its default.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::protocol::api::alter_configs::{
    AlterConfigsRequest, AlterConfigsResource, AlterConfigsResponse, AlterableConfig,
};

use super::config_resource::ConfigResource;
use super::AdminClient;

impl AdminClient {
    /// Replaces the dynamic configs of each resource with exactly the given set, as the
    /// Java admin's (deprecated) `alterConfigs` and kafka-python's
    /// `alter_configs(..., incremental=False)`. Returns each resource's outcome; with
    /// `validate_only` nothing changes.
    ///
    /// **This is not a partial update.** Every dynamic config of the resource that is not
    /// in the new set is removed (back to the broker's default): altering a topic with
    /// only `retention.ms` also drops its `cleanup.policy = compact`. Two callers altering
    /// different configs of one resource overwrite each other. To change some configs and
    /// keep the others, use [`incremental_alter_configs`](Self::incremental_alter_configs)
    /// (KIP-339), which is what kafka-python 3.x's `alter_configs` does by default.
    ///
    /// As with every config change, a broker other than the one that took the change
    /// (in KRaft, any broker) may describe the old values for a moment after the call
    /// returned, until the change reaches its copy of the cluster metadata.
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use std::collections::BTreeMap;
    /// use kafka_sync::admin::{AdminClient, ConfigResource};
    /// let admin = AdminClient::builder().build()?;
    /// // The topic ends up with these two configs set and every other one at its default.
    /// let whole_set = BTreeMap::from([(
    ///     ConfigResource::topic("orders"),
    ///     BTreeMap::from([
    ///         ("retention.ms".to_string(), "86400000".to_string()),
    ///         ("cleanup.policy".to_string(), "delete".to_string()),
    ///     ]),
    /// )]);
    /// for (resource, result) in admin.alter_configs(&whole_set, false)? {
    ///     result?;
    ///     println!("replaced the configs of {resource}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn alter_configs(
        &self,
        configs: &BTreeMap<ConfigResource, BTreeMap<String, String>>,
        validate_only: bool,
    ) -> Result<BTreeMap<ConfigResource, Result<()>>> {
        self.alter_each(
            "replacing configs",
            configs.keys(),
            |group| AlterConfigsRequest {
                resources: group
                    .iter()
                    .map(|r| AlterConfigsResource {
                        resource_type: r.resource_type.as_i8(),
                        resource_name: r.name.clone(),
                        configs: configs[*r]
                            .iter()
                            .map(|(name, value)| AlterableConfig {
                                name: name.clone(),
                                value: Some(value.clone()),
                            })
                            .collect(),
                    })
                    .collect(),
                validate_only,
            },
            |resp: AlterConfigsResponse| {
                resp.responses
                    .into_iter()
                    .map(|r| {
                        let key = (r.resource_type, r.resource_name);
                        (key, r.error_code, r.error_message)
                    })
                    .collect()
            },
        )
    }
}

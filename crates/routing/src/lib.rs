//! Route planning: which deployments may serve a request, in which order, and why.
//!
//! Pure: no IO, no clock, no randomness passed in from outside the arguments. The server
//! builds a [`RouteTable`] from the config once; per request it asks [`RouteTable::rank`] for
//! the deployments in the order to try them (capability and health filtering, then the
//! model's [`Strategy`]), passing the health snapshot, the clock and a random draw.
//! [`RouteTable::plan`] is the configured order alone.

pub mod catalog;
pub mod health;
pub mod needs;
pub mod strategy;

use std::collections::HashMap;

use switchyard_types::Deployment;

use crate::catalog::{Catalog, InfoOverride, ModelInfo};
use crate::health::DeploymentHealth;
use crate::needs::Needs;
pub use crate::strategy::{Ranked, Ranking, Strategy, Why};

/// A model name clients may send, and the deployments behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRoute {
    pub name: String,
    /// In the configured order.
    pub deployments: Vec<Deployment>,
    pub strategy: Strategy,
    /// One per deployment (for [`Strategy::Weighted`]).
    pub weights: Vec<u32>,
    /// One per deployment, or empty: what the config says over the catalog.
    pub overrides: Vec<InfoOverride>,
    /// For the `auto` route: deployments below this quality tier (or of unknown tier) are
    /// left out (0: no minimum).
    pub min_tier: u8,
}

/// The health of a deployment nothing is known of yet.
static FRESH: DeploymentHealth = DeploymentHealth {
    breaker: health::BreakerState::Closed { failures: 0 },
    cooldown_until_ms: 0,
    in_flight: 0,
    ttft_ewma_ms: None,
    last_check: None,
};

/// Output tokens assumed for a cost estimate when the request does not cap them.
const TYPICAL_OUTPUT: u32 = 512;

/// Why a candidate is where it is in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Listed at this position (0 = first choice) in the model's route.
    Priority(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub deployment: &'a Deployment,
    pub reason: Reason,
}

/// The ordered candidates for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    /// Index of the model in the table (stable for the table's lifetime; used as a metrics
    /// label key).
    pub model_index: usize,
    pub candidates: Vec<Candidate<'a>>,
}

/// Every configured model, looked up by name.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    models: Vec<ModelRoute>,
    by_name: HashMap<String, usize>,
    /// Per model, per deployment: what the catalog knows of its upstream model.
    infos: Vec<Vec<Option<ModelInfo>>>,
}

/// The request names a model the table does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownModel;

impl RouteTable {
    /// A table whose deployments are looked up in the built-in catalog.
    pub fn new(models: Vec<ModelRoute>) -> Self {
        Self::with_catalog(models, &Catalog::builtin().unwrap_or_default())
    }

    pub fn with_catalog(models: Vec<ModelRoute>, catalog: &Catalog) -> Self {
        let by_name = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        let infos = models
            .iter()
            .map(|m| {
                m.deployments
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let known = catalog.lookup(&d.upstream_model);
                        match m.overrides.get(i) {
                            Some(o) => o.apply(known),
                            None => known.cloned(),
                        }
                    })
                    .collect()
            })
            .collect();
        RouteTable {
            models,
            by_name,
            infos,
        }
    }

    /// What the catalog and config say of one deployment (`position` in model `model_index`).
    pub fn info(&self, model_index: usize, position: usize) -> Option<&ModelInfo> {
        self.infos.get(model_index)?.get(position)?.as_ref()
    }

    /// The deployments of model `model_index` in the order to try them for a request with
    /// `needs`, given each deployment's `health` (in configured order) at `now_ms`.
    pub fn rank<'a>(
        &'a self,
        model_index: usize,
        needs: &Needs,
        health: &'a [DeploymentHealth],
        now_ms: u64,
        random: u64,
    ) -> Ranking<'a> {
        let Some(route) = self.models.get(model_index) else {
            return Ranking::default();
        };
        let targets: Vec<strategy::Target<'_>> = route
            .deployments
            .iter()
            .enumerate()
            .map(|(i, deployment)| strategy::Target {
                deployment,
                weight: route.weights.get(i).copied().unwrap_or(1),
                info: self
                    .infos
                    .get(model_index)
                    .and_then(|infos| infos.get(i))
                    .and_then(Option::as_ref),
                health: health.get(i).unwrap_or(&FRESH),
            })
            .collect();
        let expected_output = if needs.max_output > 0 {
            needs.max_output
        } else {
            TYPICAL_OUTPUT
        };
        let needs = Needs {
            min_tier: route.min_tier,
            ..*needs
        };
        strategy::rank(
            route.strategy,
            &targets,
            &needs,
            now_ms,
            random,
            expected_output,
        )
    }

    pub fn models(&self) -> &[ModelRoute] {
        &self.models
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn plan(&self, model: &str) -> Result<Plan<'_>, UnknownModel> {
        let model_index = self.index_of(model).ok_or(UnknownModel)?;
        let route = &self.models[model_index];
        Ok(Plan {
            model_index,
            candidates: route
                .deployments
                .iter()
                .enumerate()
                .map(|(position, deployment)| Candidate {
                    deployment,
                    reason: Reason::Priority(position),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_types::{Hosting, Jurisdiction};

    fn deployment(provider: &str, model: &str) -> Deployment {
        Deployment {
            id: format!("{provider}/{model}"),
            provider_index: 0,
            provider_id: provider.to_owned(),
            upstream_model: model.to_owned(),
            jurisdiction: Jurisdiction("EU".to_owned()),
            hosting: Hosting::Cloud,
            operator: "test".to_owned(),
            retention: switchyard_types::Retention::Unknown,
        }
    }

    #[test]
    fn plan_keeps_priority_order() {
        let table = RouteTable::new(vec![ModelRoute {
            name: "m".into(),
            deployments: vec![deployment("a", "x"), deployment("b", "y")],
            strategy: Strategy::Priority,
            weights: vec![1, 1],
            overrides: Vec::new(),
            min_tier: 0,
        }]);
        let plan = table.plan("m").unwrap();
        let ids: Vec<_> = plan
            .candidates
            .iter()
            .map(|c| c.deployment.id.as_str())
            .collect();
        assert_eq!(ids, vec!["a/x", "b/y"]);
        assert_eq!(plan.candidates[1].reason, Reason::Priority(1));
    }

    #[test]
    fn rank_uses_the_catalog_health_and_strategy() {
        let table = RouteTable::new(vec![ModelRoute {
            name: "m".into(),
            deployments: vec![
                deployment("a", "claude-sonnet-4-5"),
                deployment("b", "gpt-4o-mini"),
                deployment("c", "deepseek-reasoner"),
            ],
            strategy: Strategy::Cheapest,
            weights: vec![1, 1, 1],
            overrides: Vec::new(),
            min_tier: 0,
        }]);
        let needs = Needs {
            tools: true,
            prompt_tokens: 2_000,
            ..Needs::default()
        };
        let mut health = vec![DeploymentHealth::default(); 3];
        let ranking = table.rank(0, &needs, &health, 0, 7);
        let ids: Vec<&str> = ranking
            .admitted
            .iter()
            .map(|r| r.deployment.id.as_str())
            .collect();
        assert_eq!(ids, vec!["b/gpt-4o-mini", "a/claude-sonnet-4-5"]);
        assert_eq!(ranking.skipped[0].why, Why::Incapable("no tool calling"));
        health[1].breaker = health::BreakerState::Open { until_ms: 100 };
        let ranking = table.rank(0, &needs, &health, 50, 7);
        let ids: Vec<&str> = ranking
            .admitted
            .iter()
            .map(|r| r.deployment.id.as_str())
            .collect();
        assert_eq!(ids, vec!["a/claude-sonnet-4-5"]);
        assert!(
            table.rank(9, &needs, &health, 0, 0).admitted.is_empty(),
            "unknown index"
        );
    }

    #[test]
    fn unknown_model_is_an_error() {
        let table = RouteTable::new(Vec::new());
        assert_eq!(table.plan("nope"), Err(UnknownModel));
    }
}

//! Route planning: which deployments may serve a request, in which order, and why.
//!
//! Pure: no IO, no clock, no randomness passed in from outside the arguments. The server
//! builds a [`RouteTable`] from the config once and asks it for a [`Plan`] per request.
//! Today the strategy is "priority": the route's targets in the order the config lists them,
//! later ones serving as fallbacks.

pub mod catalog;
pub mod health;
pub mod needs;
pub mod strategy;

use std::collections::HashMap;

use switchyard_types::Deployment;

/// A model name clients may send, and the deployments behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRoute {
    pub name: String,
    /// In priority order.
    pub deployments: Vec<Deployment>,
}

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
}

/// The request names a model the table does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownModel;

impl RouteTable {
    pub fn new(models: Vec<ModelRoute>) -> Self {
        let by_name = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        RouteTable { models, by_name }
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
        }
    }

    #[test]
    fn plan_keeps_priority_order() {
        let table = RouteTable::new(vec![ModelRoute {
            name: "m".into(),
            deployments: vec![deployment("a", "x"), deployment("b", "y")],
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
    fn unknown_model_is_an_error() {
        let table = RouteTable::new(Vec::new());
        assert_eq!(table.plan("nope"), Err(UnknownModel));
    }
}

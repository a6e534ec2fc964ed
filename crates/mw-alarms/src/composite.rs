//! Composite alarms: definition-time checks (unknown children, cycles) and
//! evaluation of an [`AlarmRule`] against the children's states.
//!
//! A composite alarm is ALARM when its rule is true and OK otherwise; it is
//! INSUFFICIENT_DATA only between creation and its first evaluation. The
//! caller re-evaluates it when a child changes state or the rule is updated,
//! and stops propagating when [`find_cycle`] reports a loop (AWS lets cycles
//! exist; they only block deletion).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::format::long_date;
use crate::rule::{AlarmRule, Expr};
use crate::{Error, Evaluation, Result, StateValue};

/// What evaluation needs to know about one child alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildState {
    pub value: StateValue,
    /// The child's ARN, used in reasons; the name is used when absent.
    pub arn: Option<String>,
    /// When the child last changed state (epoch ms).
    pub updated_ms: Option<i64>,
}

impl ChildState {
    pub fn new(value: StateValue) -> ChildState {
        ChildState {
            value,
            arn: None,
            updated_ms: None,
        }
    }
}

/// Definition-time check: every child the rule names exists.
pub fn check_children(rule: &AlarmRule, exists: &dyn Fn(&str) -> bool) -> Result<()> {
    match rule.alarm_names().into_iter().find(|n| !exists(n)) {
        Some(missing) => Err(Error::UnknownChild(missing.to_owned())),
        None => Ok(()),
    }
}

/// Finds a dependency cycle among composite alarms (name → rule); children
/// that are not keys are metric alarms and end a path. Returns the cycle as
/// a path that starts and ends with the same name (`["a", "b", "a"]`), the
/// first one found in name order.
pub fn find_cycle<'a, I>(rules: I) -> Option<Vec<String>>
where
    I: IntoIterator<Item = (&'a str, &'a AlarmRule)>,
{
    let graph: BTreeMap<&str, Vec<&str>> = rules
        .into_iter()
        .map(|(name, rule)| (name, rule.alarm_names()))
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for &root in graph.keys() {
        if done.contains(root) {
            continue;
        }
        // Iterative DFS: (node, next child index); `path` is the grey set.
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        let mut path: Vec<&str> = vec![root];
        while let Some((node, next)) = stack.last_mut() {
            let children = graph.get(node).map(Vec::as_slice).unwrap_or(&[]);
            match children.get(*next) {
                None => {
                    done.insert(node);
                    stack.pop();
                    path.pop();
                }
                Some(&child) => {
                    *next += 1;
                    if let Some(at) = path.iter().position(|p| *p == child) {
                        let mut cycle: Vec<String> =
                            path[at..].iter().map(|s| (*s).to_owned()).collect();
                        cycle.push(child.to_owned());
                        return Some(cycle);
                    }
                    if graph.contains_key(child) && !done.contains(child) {
                        stack.push((child, 0));
                        path.push(child);
                    }
                }
            }
        }
    }
    None
}

/// Evaluates a composite alarm. `lookup` gives each child's state; a child
/// that no longer exists counts as INSUFFICIENT_DATA.
///
/// StateReason names the most recently changed child among those that
/// decided the outcome (`arn:... transitioned to ALARM at Tuesday 24
/// November, 2020 23:31:57 UTC`); StateReasonData lists them as
/// `{"triggeringAlarms":[{"arn":..,"state":{"value":..,"timestamp":..}}]}`.
pub fn evaluate_composite(
    rule: &AlarmRule,
    current: StateValue,
    lookup: &dyn Fn(&str) -> Option<ChildState>,
) -> Evaluation {
    let state_of = |name: &str| lookup(name).map(|c| c.value);
    let (value, deciders) = decide(rule.expr(), &state_of);
    let new_state = if value {
        StateValue::Alarm
    } else {
        StateValue::Ok
    };
    let mut names: Vec<&str> = Vec::new();
    for d in deciders {
        if !names.contains(&d) {
            names.push(d);
        }
    }
    let children: Vec<(&str, ChildState)> = names
        .iter()
        .map(|n| {
            (
                *n,
                lookup(n).unwrap_or_else(|| ChildState::new(StateValue::InsufficientData)),
            )
        })
        .collect();
    let ident = |name: &str, c: &ChildState| c.arn.clone().unwrap_or_else(|| name.to_owned());
    // The most recent change decides; ties and unknown times keep rule order.
    let latest = children
        .iter()
        .enumerate()
        .max_by_key(|(i, (_, c))| (c.updated_ms, std::cmp::Reverse(*i)))
        .map(|(_, c)| c);
    let reason = match latest {
        Some((name, c)) => match c.updated_ms {
            Some(ms) => format!(
                "{} transitioned to {} at {}",
                ident(name, c),
                c.value,
                long_date(ms)
            ),
            None => format!("{} is in state {}", ident(name, c), c.value),
        },
        None => format!(
            "alarm rule evaluated to {}",
            if value { "TRUE" } else { "FALSE" }
        ),
    };
    let triggering: Vec<Value> = children
        .iter()
        .map(|(name, c)| {
            let mut state = json!({ "value": c.value.as_str() });
            if let Some(ms) = c.updated_ms {
                state["timestamp"] = json!(crate::format::json_date(ms));
            }
            json!({ "arn": ident(name, c), "state": state })
        })
        .collect();
    Evaluation {
        new_state,
        reason,
        reason_data: json!({ "triggeringAlarms": triggering }),
        changed: new_state != current,
    }
}

/// The rule's value and the children that justify it: an AND is true
/// because of all its operands and false because of the first false one;
/// an OR the other way round; NOT passes its operand's reasons through.
fn decide<'a>(e: &'a Expr, state_of: &dyn Fn(&str) -> Option<StateValue>) -> (bool, Vec<&'a str>) {
    match e {
        Expr::True => (true, Vec::new()),
        Expr::False => (false, Vec::new()),
        Expr::State(..) => (crate::rule::eval_expr(e, state_of), state_name(e)),
        Expr::Not(inner) => {
            let (v, why) = decide(inner, state_of);
            (!v, why)
        }
        Expr::And(items) | Expr::Or(items) => {
            let short = matches!(e, Expr::Or(_));
            let mut all = Vec::new();
            for item in items {
                let (v, why) = decide(item, state_of);
                if v == short {
                    return (v, why);
                }
                all.extend(why);
            }
            (!short, all)
        }
    }
}

fn state_name(e: &Expr) -> Vec<&str> {
    match e {
        Expr::State(_, r) => vec![r.name.as_str()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;

//! A policy as a picture: stages → evidence sets → approvals → gates, drawn as
//! server-rendered SVG in four columns.
//!
//! Each stage is a band: its node on the left, its evidence sets beside it, then
//! its approvals (each set feeds each approval of its stage), and the gates the
//! approvals open on the right, placed level with the approvals they need.
//! Stages are joined top to bottom ("then", when the policy enforces their order).
//! Sets shown only for some answers have a dashed border; approvals with a
//! sign-off form say so. The SVG has a title and description, and a visually
//! hidden outline of the same structure follows it for screen readers.

use std::collections::HashMap;
use std::fmt::Write as _;

use charter_domain::policy::Policy;

use crate::ui::chart::{esc, num, truncate};

const NODE_H: f64 = 46.0;
const ROW: f64 = 58.0;
const TOP: f64 = 34.0;
/// Column x positions and widths: stages, evidence sets, approvals, gates.
const COLS: [(f64, f64); 4] = [(0.0, 170.0), (230.0, 210.0), (500.0, 200.0), (760.0, 180.0)];
const WIDTH: f64 = 940.0;

/// A node of the graph.
#[derive(Debug, Clone)]
struct Node {
    col: usize,
    y: f64,
    title: String,
    subtitle: String,
    class: &'static str,
    /// The full text, for the tooltip.
    tooltip: String,
}

impl Node {
    fn left(&self) -> (f64, f64) {
        (COLS[self.col].0, self.y + NODE_H / 2.0)
    }
    fn right(&self) -> (f64, f64) {
        (COLS[self.col].0 + COLS[self.col].1, self.y + NODE_H / 2.0)
    }
}

/// The graph's SVG and its text outline.
pub struct PolicyGraph {
    pub svg: String,
    /// Stages, sets, approvals and gates as nested lists (visually hidden).
    pub outline: String,
}

impl askama::filters::HtmlSafe for PolicyGraph {}

impl std::fmt::Display for PolicyGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.svg)?;
        f.write_str(&self.outline)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Draw `policy`.
pub fn graph(policy: &Policy, title: &str) -> PolicyGraph {
    let mut nodes: Vec<Node> = Vec::new();
    let mut edges: Vec<(usize, usize, &'static str)> = Vec::new();
    let mut stage_nodes = Vec::new();
    let mut approval_at: HashMap<&str, usize> = HashMap::new();
    let mut y = TOP;
    for stage in policy.stages() {
        let sets = stage.evidence_sets();
        let approvals = stage.approvals();
        let rows = sets.len().max(approvals.len()).max(1) as f64;
        let band = rows * ROW;
        let questions: usize = stage.all_evidence_sets().map(|s| s.inputs().count()).sum();
        let stage_node = nodes.len();
        nodes.push(Node {
            col: 0,
            y: y + (band - ROW) / 2.0,
            title: stage.name().to_owned(),
            subtitle: plural(questions, "question", "questions"),
            class: "graph-stage",
            tooltip: format!("Stage {}", stage.name()),
        });
        stage_nodes.push(stage_node);
        let set_nodes: Vec<usize> = sets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let conditional = !s.visibility_conditions().is_empty();
                nodes.push(Node {
                    col: 1,
                    y: y + (band - sets.len() as f64 * ROW) / 2.0 + i as f64 * ROW,
                    title: s.name().to_owned(),
                    subtitle: if conditional {
                        format!("{} · conditional", plural(s.inputs().count(), "question", "questions"))
                    } else {
                        plural(s.inputs().count(), "question", "questions")
                    },
                    class: if conditional {
                        "graph-set graph-conditional"
                    } else {
                        "graph-set"
                    },
                    tooltip: match conditional {
                        true => format!(
                            "Evidence set {} ({}), shown when {}",
                            s.name(),
                            s.id(),
                            s.visibility_conditions()
                                .iter()
                                .map(|c| c.source())
                                .collect::<Vec<_>>()
                                .join(" and ")
                        ),
                        false => format!("Evidence set {} ({})", s.name(), s.id()),
                    },
                });
                edges.push((stage_node, nodes.len() - 1, "graph-edge"));
                nodes.len() - 1
            })
            .collect();
        for (i, a) in approvals.iter().enumerate() {
            let approvers: Vec<&str> = policy.approvers_for(a).iter().map(|ap| ap.name()).collect();
            nodes.push(Node {
                col: 2,
                y: y + (band - approvals.len() as f64 * ROW) / 2.0 + i as f64 * ROW,
                title: a.name().to_owned(),
                subtitle: if a.evidence().is_some() {
                    format!("{} · sign-off form", approvers.join(", "))
                } else {
                    approvers.join(", ")
                },
                class: "graph-approval",
                tooltip: format!("Approval {} by {}", a.name(), approvers.join(", ")),
            });
            let node = nodes.len() - 1;
            approval_at.insert(a.name(), node);
            if set_nodes.is_empty() {
                edges.push((stage_node, node, "graph-edge"));
            }
            for &s in &set_nodes {
                edges.push((s, node, "graph-edge graph-edge-faint"));
            }
        }
        y += band;
    }
    let bands_bottom = y;

    // Gates sit level with the approvals they need, pushed down so none overlap.
    let mut gates: Vec<(f64, usize)> = Vec::new();
    for gate in policy.gates() {
        let needs: Vec<usize> = gate
            .approvals()
            .iter()
            .filter_map(|a| approval_at.get(a.as_str()).copied())
            .collect();
        let want = if needs.is_empty() {
            bands_bottom
        } else {
            needs.iter().map(|&n| nodes[n].y).sum::<f64>() / needs.len() as f64
        };
        let actions: Vec<&str> = gate.rules().iter().map(|r| r.action.as_str()).collect();
        nodes.push(Node {
            col: 3,
            y: want,
            title: gate.name().to_owned(),
            subtitle: match gate.when() {
                Some(_) => format!("{} · conditional", actions.join(", ")),
                None => actions.join(", "),
            },
            class: if gate.when().is_some() {
                "graph-gate graph-conditional"
            } else {
                "graph-gate"
            },
            tooltip: match gate.when() {
                Some(w) => format!(
                    "Gate {} on {}, when {}; needs {}",
                    gate.name(),
                    actions.join(", "),
                    w.source(),
                    gate.approvals().join(", ")
                ),
                None => format!(
                    "Gate {} on {}; needs {}",
                    gate.name(),
                    actions.join(", "),
                    gate.approvals().join(", ")
                ),
            },
        });
        let node = nodes.len() - 1;
        gates.push((want, node));
        for n in needs {
            edges.push((n, node, "graph-edge graph-edge-gate"));
        }
    }
    gates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut floor = TOP;
    for (_, n) in &gates {
        let y = nodes[*n].y.max(floor);
        nodes[*n].y = y;
        floor = y + ROW;
    }
    let height = nodes.iter().map(|n| n.y + NODE_H).fold(bands_bottom, f64::max) + 12.0;

    let counts = [
        policy.stages().len(),
        policy.stages().iter().map(|s| s.evidence_sets().len()).sum(),
        policy.approvals().count(),
        policy.gates().len(),
    ];
    let desc = format!(
        "{}, {}, {} and {}.{}",
        plural(counts[0], "stage", "stages"),
        plural(counts[1], "evidence set", "evidence sets"),
        plural(counts[2], "approval", "approvals"),
        plural(counts[3], "gate", "gates"),
        if policy.enforce_sequential_order() {
            " Stages open in order."
        } else {
            ""
        }
    );

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="policy-graph" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="policy-graph-title policy-graph-desc" data-testid="policy-graph" focusable="false"><title id="policy-graph-title">{}</title><desc id="policy-graph-desc">{}</desc>"#,
        esc(title),
        esc(&desc),
        w = num(WIDTH),
        h = num(height)
    );
    svg.push_str(r#"<defs><marker id="policy-graph-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" class="graph-arrowhead"/></marker></defs>"#);
    for (i, heading) in ["Stages", "Evidence sets", "Approvals", "Gates"].iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text class="graph-heading" x="{}" y="16">{}</text>"#,
            num(COLS[i].0),
            heading
        );
    }
    for (from, to, class) in &edges {
        let (x1, y1) = nodes[*from].right();
        let (x2, y2) = nodes[*to].left();
        let mid = (x1 + x2) / 2.0;
        let _ = write!(
            svg,
            r#"<path class="{class}" d="M{} {} C{} {} {} {} {} {}" fill="none" marker-end="url(#policy-graph-arrow)"/>"#,
            num(x1),
            num(y1),
            num(mid),
            num(y1),
            num(mid),
            num(y2),
            num(x2 - 2.0),
            num(y2)
        );
    }
    // Stage order, down the first column.
    for pair in stage_nodes.windows(2) {
        let (a, b) = (&nodes[pair[0]], &nodes[pair[1]]);
        let x = COLS[0].0 + 24.0;
        let class = if policy.enforce_sequential_order() {
            "graph-edge graph-order"
        } else {
            "graph-edge graph-order graph-order-free"
        };
        let _ = write!(
            svg,
            r#"<path class="{class}" d="M{x} {} L{x} {}" fill="none" marker-end="url(#policy-graph-arrow)"/>"#,
            num(a.y + NODE_H),
            num(b.y - 2.0),
            x = num(x)
        );
        if policy.enforce_sequential_order() {
            let _ = write!(
                svg,
                r#"<text class="graph-note" x="{}" y="{}">then</text>"#,
                num(x + 6.0),
                num((a.y + NODE_H + b.y) / 2.0 + 4.0)
            );
        }
    }
    for n in &nodes {
        let (x, w) = COLS[n.col];
        let chars = (w / 7.4) as usize;
        let _ = write!(
            svg,
            r#"<g class="graph-node {}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="7"/><text class="graph-title" x="{}" y="{}">{}</text><text class="graph-sub" x="{}" y="{}">{}</text></g>"#,
            n.class,
            esc(&n.tooltip),
            num(x),
            num(n.y),
            num(w),
            num(NODE_H),
            num(x + 10.0),
            num(n.y + 19.0),
            esc(&truncate(&n.title, chars)),
            num(x + 10.0),
            num(n.y + 36.0),
            esc(&truncate(&n.subtitle, chars + 4))
        );
    }
    svg.push_str("</svg>");

    let mut outline = String::from(r#"<div class="visually-hidden"><p>The policy as a list:</p><ol>"#);
    for stage in policy.stages() {
        let _ = write!(outline, "<li>Stage {}<ul>", esc(stage.name()));
        for s in stage.evidence_sets() {
            let _ = write!(
                outline,
                "<li>Evidence set {}: {}{}</li>",
                esc(s.name()),
                plural(s.inputs().count(), "question", "questions"),
                if s.visibility_conditions().is_empty() {
                    ""
                } else {
                    ", shown only for some answers"
                }
            );
        }
        for a in stage.approvals() {
            let approvers: Vec<&str> = policy.approvers_for(a).iter().map(|ap| ap.name()).collect();
            let _ = write!(
                outline,
                "<li>Approval {} by {}</li>",
                esc(a.name()),
                esc(&approvers.join(", "))
            );
        }
        outline.push_str("</ul></li>");
    }
    outline.push_str("</ol><ul>");
    for g in policy.gates() {
        let _ = write!(
            outline,
            "<li>Gate {} needs {}</li>",
            esc(g.name()),
            esc(&g.approvals().join(", "))
        );
    }
    outline.push_str("</ul></div>");
    PolicyGraph { svg, outline }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
enforceSequentialOrder: true
stages:
  - name: Intake
    evidenceSet:
      - id: Local.a
        name: Use case
        definition:
          - artifactType: input
            details: {type: textinput, label: What?}
      - id: Local.b
        name: Data
        visibility: {conditions: [{when: 'classification == "High"'}]}
        definition:
          - artifactType: input
            details: {type: textinput, label: Which?}
    approvals:
      - name: Intake review
        approvers: [alice]
  - name: Validation
    evidenceSet:
      - id: Local.c
        name: Results
        definition:
          - artifactType: input
            details: {type: numeric, label: Accuracy}
    approvals:
      - name: Validation sign off
        approvers: [bob]
gates:
  - name: Production
    rules: [{action: start_app}]
    approvals: [Intake review, Validation sign off]
"#;

    #[test]
    fn stages_sets_approvals_and_gates_are_nodes_joined_in_order() {
        let policy = charter_domain::policy::lint(YAML).policy.expect("lints clean");
        let g = graph(&policy, "Example");
        let count = |class: &str| g.svg.matches(&format!("class=\"graph-node {class}")).count();
        assert_eq!(count("graph-stage"), 2);
        assert_eq!(count("graph-set"), 3);
        assert_eq!(count("graph-approval"), 2);
        assert_eq!(count("graph-gate"), 1);
        assert_eq!(
            g.svg.matches("graph-conditional").count(),
            1,
            "the High-only set is dashed"
        );
        // 3 stage→set, 3 set→approval, 2 approval→gate, 1 stage→stage.
        assert_eq!(g.svg.matches("<path class=\"graph-edge").count(), 9);
        assert!(g.svg.contains(">then</text>"));
        assert!(
            g.svg
                .contains("2 stages, 3 evidence sets, 2 approvals and 1 gate. Stages open in order.")
        );
        assert!(
            g.outline
                .contains("<li>Gate Production needs Intake review, Validation sign off</li>")
        );
    }
}

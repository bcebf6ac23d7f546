//! One game's search tree (docs/design.md §5): nodes hold a residual, edges the
//! sampled candidate actions with their empirical prior, visit counts and
//! summed returns. Selection is pUCT with c(s) and Q normalised to the
//! min/max seen in the tree; the backup adds −1 per step to the leaf value
//! (the network's, 0 for a solved residual, −γ(S) at the step limit).
//! Several simulations of one tree may be in flight at once: each holds a
//! virtual loss on its path until its leaf is evaluated.

use super::actions::Candidate;
use super::rank_bound::Penalty;
use crate::game::GameConfig;

/// The constants of pUCT and of the improved policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MctsConfig {
    pub c_init: f64,
    pub c_base: f64,
    /// N̄ of the improved policy's temperature τ(s).
    pub temperature_visits: f64,
    /// What a game unsolved at the step limit is charged.
    pub penalty: Penalty,
}

impl Default for MctsConfig {
    fn default() -> Self {
        MctsConfig {
            c_init: 1.25,
            c_base: 19652.0,
            temperature_visits: 100.0,
            penalty: Penalty::Upper,
        }
    }
}

impl MctsConfig {
    /// c(s) = c_init + ln((N(s) + c_base + 1) / c_base).
    pub fn exploration(&self, parent_visits: f64) -> f64 {
        self.c_init + ((parent_visits + self.c_base + 1.0) / self.c_base).ln()
    }

    /// pUCT(s,a) = Q̄(s,a) + c(s)·π̂(s,a)·√N(s) / (1 + N(s,a)), with Q̄ the
    /// normalised value (0 for an unvisited edge).
    pub fn score(&self, q_normalised: f64, prior: f64, parent_visits: f64, visits: f64) -> f64 {
        q_normalised
            + self.exploration(parent_visits) * prior * parent_visits.sqrt() / (1.0 + visits)
    }

    /// τ(s) = ln N(s) / ln N̄ when N(s) > N̄, else 1.
    pub fn temperature(&self, parent_visits: f64) -> f64 {
        if parent_visits > self.temperature_visits {
            parent_visits.ln() / self.temperature_visits.ln()
        } else {
            1.0
        }
    }

    /// The improved policy N(s,a)^(1/τ(s)), normalised.
    pub fn improved_policy(&self, visits: &[u32]) -> Vec<f64> {
        let total: f64 = visits.iter().map(|&n| n as f64).sum();
        if total == 0.0 {
            return vec![1.0 / visits.len().max(1) as f64; visits.len()];
        }
        let inv_tau = 1.0 / self.temperature(total);
        let powered: Vec<f64> = visits.iter().map(|&n| (n as f64).powf(inv_tau)).collect();
        let sum: f64 = powered.iter().sum();
        powered.iter().map(|p| p / sum).collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeState {
    /// Not yet evaluated by the network.
    Unexpanded,
    /// Selected in this round; its evaluation is on the way.
    Pending,
    Expanded,
    /// The game ends here with this value (0 when solved, −γ(S) otherwise).
    Terminal(f64),
}

#[derive(Clone, Debug)]
pub struct Edge {
    pub action: Vec<i32>,
    pub prior: f32,
    pub visits: u32,
    pub value_sum: f64,
    /// Simulations in flight through this edge.
    pub in_flight: u32,
    pub child: Option<usize>,
}

impl Edge {
    pub fn q(&self) -> Option<f64> {
        (self.visits > 0).then(|| self.value_sum / self.visits as f64)
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub residual: Vec<i32>,
    pub step: usize,
    /// The last actions, most recent first (the network's history channels).
    pub history: Vec<Vec<i32>>,
    pub state: NodeState,
    pub edges: Vec<Edge>,
    /// The network's value of this node (set at expansion): the first-play
    /// value of its unvisited edges.
    pub value: f64,
}

impl Node {
    pub fn visits(&self) -> u32 {
        self.edges.iter().map(|e| e.visits).sum()
    }
}

/// A root-to-leaf path: the (node, edge) pairs taken, and the leaf.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub steps: Vec<(usize, usize)>,
    pub leaf: usize,
}

/// What a selection reached.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// A leaf the network must evaluate (now marked pending).
    Evaluate(Path),
    /// A terminal node; its value is already backed up.
    Terminal,
    /// A leaf already pending in this round; nothing to do.
    Busy,
}

pub struct Tree {
    pub game: GameConfig,
    pub cfg: MctsConfig,
    pub nodes: Vec<Node>,
    pub root: usize,
    min_q: f64,
    max_q: f64,
}

impl Tree {
    /// A tree whose root is `residual` at step 0 with an empty history.
    pub fn new(game: GameConfig, cfg: MctsConfig, residual: Vec<i32>) -> Self {
        let history = vec![vec![0; game.action_len()]; game.history];
        Tree::at(game, cfg, residual, 0, history)
    }

    /// A tree whose root is a state reached later in a game: `residual`
    /// at `step`, with its `history` (most recent first).
    pub fn at(
        game: GameConfig,
        cfg: MctsConfig,
        residual: Vec<i32>,
        step: usize,
        history: Vec<Vec<i32>>,
    ) -> Self {
        let mut tree = Tree {
            game,
            cfg,
            nodes: Vec::new(),
            root: 0,
            min_q: f64::INFINITY,
            max_q: f64::NEG_INFINITY,
        };
        tree.root = tree.add_node(residual, step, history);
        tree
    }

    pub fn root(&self) -> &Node {
        &self.nodes[self.root]
    }

    fn add_node(&mut self, residual: Vec<i32>, step: usize, history: Vec<Vec<i32>>) -> usize {
        let state = if residual.iter().all(|&x| x == 0) {
            NodeState::Terminal(0.0)
        } else if step >= self.game.max_steps {
            NodeState::Terminal(-self.penalty(&residual))
        } else {
            NodeState::Unexpanded
        };
        self.nodes.push(Node {
            residual,
            step,
            history,
            state,
            edges: Vec::new(),
            value: 0.0,
        });
        self.nodes.len() - 1
    }

    /// γ(S): the rank bound charged when the game stops unsolved.
    pub fn penalty(&self, residual: &[i32]) -> f64 {
        self.cfg
            .penalty
            .charge(self.game.field, self.game.dims, residual) as f64
    }

    /// Q normalised to [0, 1] by the values seen in this tree.
    fn normalise(&self, q: f64) -> f64 {
        if self.max_q > self.min_q {
            ((q - self.min_q) / (self.max_q - self.min_q)).clamp(0.0, 1.0)
        } else {
            0.5
        }
    }

    /// The edge pUCT picks at `node`, ties broken by the larger prior.
    /// Edges with simulations in flight count those as visits that
    /// returned the worst value seen (the virtual loss). An unvisited edge
    /// is valued at the node's own value (a first-play value): with 0 —
    /// the worst normalised value — a node whose first child returned
    /// anything would go back to that child instead of trying its siblings.
    pub fn choose_edge(&self, node: usize) -> usize {
        let n = &self.nodes[node];
        let parent: f64 = n
            .edges
            .iter()
            .map(|e| (e.visits + e.in_flight) as f64)
            .sum();
        let worst = if self.min_q.is_finite() {
            self.min_q
        } else {
            0.0
        };
        let mut best = (f64::NEG_INFINITY, f32::NEG_INFINITY, 0);
        for (i, e) in n.edges.iter().enumerate() {
            let visits = (e.visits + e.in_flight) as f64;
            let q = if visits > 0.0 {
                self.normalise((e.value_sum + e.in_flight as f64 * worst) / visits)
            } else {
                self.normalise(n.value)
            };
            let s = self.cfg.score(q, e.prior as f64, parent, visits);
            if (s, e.prior) > (best.0, best.1) {
                best = (s, e.prior, i);
            }
        }
        best.2
    }

    /// The child of `node` along `edge`, created on first use.
    /// The state `action` leads to from `node`: its residual, history
    /// (the action first) and step.
    pub fn successor(&self, node: usize, action: &[i32]) -> (Vec<i32>, Vec<Vec<i32>>, usize) {
        let parent = &self.nodes[node];
        let mut residual = parent.residual.clone();
        let mut history = parent.history.clone();
        self.game.play(&mut residual, &mut history, action);
        (residual, history, parent.step + 1)
    }

    fn child(&mut self, node: usize, edge: usize) -> usize {
        if let Some(c) = self.nodes[node].edges[edge].child {
            return c;
        }
        let (residual, history, step) = self.successor(node, &self.nodes[node].edges[edge].action);
        let c = self.add_node(residual, step, history);
        self.nodes[node].edges[edge].child = Some(c);
        c
    }

    /// One selection from the root. A terminal leaf is backed up at once;
    /// a new leaf is marked pending with a virtual loss on its path.
    pub fn select(&mut self) -> Selection {
        let mut steps = Vec::new();
        let mut node = self.root;
        loop {
            match self.nodes[node].state {
                NodeState::Terminal(value) => {
                    self.backup(&steps, value);
                    return Selection::Terminal;
                }
                NodeState::Pending => {
                    self.release(&steps);
                    return Selection::Busy;
                }
                NodeState::Unexpanded => {
                    self.nodes[node].state = NodeState::Pending;
                    return Selection::Evaluate(Path { steps, leaf: node });
                }
                NodeState::Expanded => {
                    let edge = self.choose_edge(node);
                    self.nodes[node].edges[edge].in_flight += 1;
                    steps.push((node, edge));
                    node = self.child(node, edge);
                }
            }
        }
    }

    fn release(&mut self, steps: &[(usize, usize)]) {
        for &(n, e) in steps {
            self.nodes[n].edges[e].in_flight -= 1;
        }
    }

    /// Expands a pending leaf with its candidates and backs up `value`.
    /// A leaf without a legal candidate ends the game there (−γ(S)).
    pub fn expand(&mut self, path: &Path, candidates: Vec<Candidate>, value: f64) {
        if candidates.is_empty() {
            let v = -self.penalty(&self.nodes[path.leaf].residual);
            self.nodes[path.leaf].state = NodeState::Terminal(v);
            self.backup(&path.steps, v);
            return;
        }
        let leaf = &mut self.nodes[path.leaf];
        leaf.value = value;
        leaf.edges = candidates
            .into_iter()
            .map(|c| Edge {
                action: c.action,
                prior: c.prior,
                visits: 0,
                value_sum: 0.0,
                in_flight: 0,
                child: None,
            })
            .collect();
        leaf.state = NodeState::Expanded;
        self.backup(&path.steps, value);
    }

    /// Adds the return of each edge on the path, −1 per step plus the
    /// leaf value, and releases the path's virtual losses.
    fn backup(&mut self, steps: &[(usize, usize)], leaf_value: f64) {
        let mut g = leaf_value;
        for &(n, e) in steps.iter().rev() {
            g -= 1.0;
            let edge = &mut self.nodes[n].edges[e];
            edge.visits += 1;
            edge.value_sum += g;
            edge.in_flight -= 1;
            let q = edge.value_sum / edge.visits as f64;
            self.min_q = self.min_q.min(q);
            self.max_q = self.max_q.max(q);
        }
    }

    /// Runs `simulations` simulations one leaf at a time, `evaluate`
    /// giving a leaf's candidates and value (tests, scripted policies).
    pub fn simulate(
        &mut self,
        simulations: usize,
        mut evaluate: impl FnMut(&Node) -> (Vec<Candidate>, f64),
    ) {
        for _ in 0..simulations {
            if let Selection::Evaluate(path) = self.select() {
                let (candidates, value) = evaluate(&self.nodes[path.leaf]);
                self.expand(&path, candidates, value);
            }
        }
    }

    /// The root edge with the most visits, ties broken by Q.
    pub fn most_visited(&self) -> Option<usize> {
        let edges = &self.root().edges;
        (0..edges.len()).max_by(|&a, &b| {
            let key = |e: &Edge| (e.visits, e.q().unwrap_or(f64::NEG_INFINITY));
            key(&edges[a])
                .partial_cmp(&key(&edges[b]))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    }

    /// Mixes `noise` (one weight per root edge, summing to one) into the
    /// root's priors: π ← (1 − ε)·π + ε·η.
    pub fn add_root_noise(&mut self, noise: &[f64], fraction: f64) {
        let root = self.root;
        for (e, &eta) in self.nodes[root].edges.iter_mut().zip(noise) {
            e.prior = ((1.0 - fraction) * e.prior as f64 + fraction * eta) as f32;
        }
    }

    /// Widens the root with `extra` actions and the values of the states
    /// they lead to: the existing priors keep 1 − `share`, the new edges
    /// split `share`, and each starts with its scored value as one visit
    /// (−1 for the step plus the state's value), so that selection
    /// compares it with the visited edges at once.
    pub fn widen_root(&mut self, extra: Vec<(Vec<i32>, f64)>, share: f32) {
        if extra.is_empty() {
            return;
        }
        let each = share / extra.len() as f32;
        let root = &mut self.nodes[self.root];
        root.edges.iter_mut().for_each(|e| e.prior *= 1.0 - share);
        for (action, value) in extra {
            let q = value - 1.0;
            root.edges.push(Edge {
                action,
                prior: each,
                visits: 1,
                value_sum: q,
                in_flight: 0,
                child: None,
            });
            self.min_q = self.min_q.min(q);
            self.max_q = self.max_q.max(q);
        }
    }

    /// The improved policy over the root's edges.
    pub fn root_policy(&self) -> Vec<f64> {
        let visits: Vec<u32> = self.root().edges.iter().map(|e| e.visits).collect();
        self.cfg.improved_policy(&visits)
    }

    /// Plays root edge `edge`: its child becomes the root (its subtree is
    /// kept). Returns the action played.
    pub fn play(&mut self, edge: usize) -> Vec<i32> {
        let root = self.root;
        let action = self.nodes[root].edges[edge].action.clone();
        self.root = self.child(root, edge);
        action
    }
}

//! A minimum vertex cover of a bipartite graph, exact, by König's theorem:
//! a maximum matching (Hopcroft–Karp) and the alternating-path
//! construction from it.
//!
//! cxskill uses it for removals: the edges are the (agent, skill) pairs to
//! remove, and each cover vertex is one DELETE: per agent
//! (`DELETE /agents/{id}/skills`) or per skill (`DELETE /skills/{id}/agents`).
//! The fewest vertices that touch every edge are the fewest targets.

use std::collections::{HashMap, VecDeque};

/// Which side of the graph a cover vertex is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Left(u64),
    Right(u64),
}

/// A minimum vertex cover of the bipartite graph with these edges (left,
/// right), each edge assigned to one cover vertex that touches it. Every
/// vertex of the cover gets at least one edge. Deterministic: the same
/// edges in any order give the same cover.
pub fn min_vertex_cover(edges: &[(u64, u64)]) -> Vec<(Side, Vec<(u64, u64)>)> {
    if edges.is_empty() {
        return Vec::new();
    }
    let mut edges = edges.to_vec();
    edges.sort_unstable();
    edges.dedup();
    let graph = Graph::new(&edges);
    let (match_left, match_right) = graph.maximum_matching();

    // König: from every unmatched left vertex, walk alternating paths
    // (left → right along any edge, right → left along the matching).
    // The cover is the unreached left vertices and the reached right ones.
    let mut reached_left = vec![false; graph.left.len()];
    let mut reached_right = vec![false; graph.right.len()];
    let mut queue: VecDeque<usize> = (0..graph.left.len())
        .filter(|&l| match_left[l].is_none())
        .collect();
    for &l in &queue {
        reached_left[l] = true;
    }
    while let Some(l) = queue.pop_front() {
        for &r in &graph.adjacent[l] {
            if reached_right[r] {
                continue;
            }
            reached_right[r] = true;
            if let Some(next) = match_right[r]
                && !reached_left[next]
            {
                reached_left[next] = true;
                queue.push_back(next);
            }
        }
    }
    let in_cover_left: Vec<bool> = reached_left.iter().map(|&r| !r).collect();

    let mut assigned: HashMap<Side, Vec<(u64, u64)>> = HashMap::new();
    for &(a, b) in &edges {
        let (l, r) = (graph.left_index[&a], graph.right_index[&b]);
        // An edge with both ends in the cover goes to its right end (a
        // skill): either end would do.
        let side = if reached_right[r] {
            Side::Right(b)
        } else {
            debug_assert!(in_cover_left[l]);
            Side::Left(a)
        };
        assigned.entry(side).or_default().push((a, b));
    }
    let mut cover: Vec<(Side, Vec<(u64, u64)>)> = assigned.into_iter().collect();
    cover.sort_unstable_by_key(|(side, _)| *side);
    cover
}

/// The size of a maximum matching (the cover's size, by König): the
/// tests' check on the cover.
#[cfg(test)]
fn maximum_matching_size(edges: &[(u64, u64)]) -> usize {
    let mut edges = edges.to_vec();
    edges.sort_unstable();
    edges.dedup();
    let graph = Graph::new(&edges);
    graph.maximum_matching().0.iter().flatten().count()
}

struct Graph {
    left: Vec<u64>,
    right: Vec<u64>,
    left_index: HashMap<u64, usize>,
    right_index: HashMap<u64, usize>,
    adjacent: Vec<Vec<usize>>,
}

impl Graph {
    fn new(edges: &[(u64, u64)]) -> Graph {
        let mut graph = Graph {
            left: Vec::new(),
            right: Vec::new(),
            left_index: HashMap::new(),
            right_index: HashMap::new(),
            adjacent: Vec::new(),
        };
        for &(a, b) in edges {
            let l = *graph.left_index.entry(a).or_insert_with(|| {
                graph.left.push(a);
                graph.adjacent.push(Vec::new());
                graph.left.len() - 1
            });
            let r = *graph.right_index.entry(b).or_insert_with(|| {
                graph.right.push(b);
                graph.right.len() - 1
            });
            graph.adjacent[l].push(r);
        }
        graph
    }

    /// Hopcroft–Karp: shortest augmenting paths in phases, O(E √V). The
    /// depth-first search is iterative, so a long path cannot overflow the
    /// stack.
    fn maximum_matching(&self) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
        const FREE: usize = usize::MAX;
        let (n, m) = (self.left.len(), self.right.len());
        let mut match_left: Vec<Option<usize>> = vec![None; n];
        let mut match_right: Vec<Option<usize>> = vec![None; m];
        let mut dist = vec![FREE; n];
        loop {
            // Breadth-first: layer the graph from the free left vertices.
            let mut queue = VecDeque::new();
            for l in 0..n {
                if match_left[l].is_none() {
                    dist[l] = 0;
                    queue.push_back(l);
                } else {
                    dist[l] = FREE;
                }
            }
            let mut found = false;
            while let Some(l) = queue.pop_front() {
                for &r in &self.adjacent[l] {
                    match match_right[r] {
                        None => found = true,
                        Some(next) if dist[next] == FREE => {
                            dist[next] = dist[l] + 1;
                            queue.push_back(next);
                        }
                        Some(_) => {}
                    }
                }
            }
            if !found {
                return (match_left, match_right);
            }
            // Depth-first along the layers, from each free left vertex.
            let mut cursor = vec![0usize; n];
            for start in 0..n {
                if match_left[start].is_some() {
                    continue;
                }
                let mut path: Vec<usize> = vec![start];
                while let Some(&l) = path.last() {
                    let mut advanced = false;
                    while cursor[l] < self.adjacent[l].len() {
                        let r = self.adjacent[l][cursor[l]];
                        cursor[l] += 1;
                        match match_right[r] {
                            None => {
                                // Augment along the path.
                                let mut r = r;
                                for &pl in path.iter().rev() {
                                    let previous = match_left[pl];
                                    match_left[pl] = Some(r);
                                    match_right[r] = Some(pl);
                                    match previous {
                                        Some(p) => r = p,
                                        None => break,
                                    }
                                }
                                path.clear();
                                advanced = true;
                                break;
                            }
                            Some(next) if dist[next] == dist[l] + 1 => {
                                path.push(next);
                                advanced = true;
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                    if !advanced {
                        dist[l] = FREE;
                        path.pop();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest cover by trying every subset of vertices.
    fn brute_force(edges: &[(u64, u64)]) -> usize {
        let mut vertices: Vec<Side> = edges
            .iter()
            .flat_map(|&(a, b)| [Side::Left(a), Side::Right(b)])
            .collect();
        vertices.sort_unstable();
        vertices.dedup();
        let n = vertices.len();
        (0u32..1 << n)
            .filter(|mask| {
                edges.iter().all(|&(a, b)| {
                    let has = |v: Side| {
                        vertices
                            .iter()
                            .position(|&x| x == v)
                            .is_some_and(|i| mask & (1 << i) != 0)
                    };
                    has(Side::Left(a)) || has(Side::Right(b))
                })
            })
            .map(u32::count_ones)
            .min()
            .unwrap_or(0) as usize
    }

    fn check(edges: &[(u64, u64)]) {
        let cover = min_vertex_cover(edges);
        let mut covered: Vec<(u64, u64)> = cover.iter().flat_map(|(_, e)| e.clone()).collect();
        covered.sort_unstable();
        let mut wanted = edges.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        assert_eq!(covered, wanted, "every edge once: {edges:?}");
        for (side, assigned) in &cover {
            assert!(!assigned.is_empty());
            for &(a, b) in assigned {
                assert!(*side == Side::Left(a) || *side == Side::Right(b));
            }
        }
        assert_eq!(cover.len(), brute_force(edges), "minimum: {edges:?}");
        assert_eq!(maximum_matching_size(edges), cover.len(), "König");
    }

    #[test]
    fn small_graphs_match_brute_force() {
        check(&[]);
        check(&[(1, 1)]);
        check(&[(1, 1), (1, 2), (1, 3)]);
        check(&[(1, 1), (2, 1), (3, 1)]);
        check(&[(1, 1), (2, 2), (3, 3)]);
        check(&[(1, 1), (1, 2), (2, 1), (2, 2)]);
        check(&[(1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 1)]);
    }

    #[test]
    fn random_graphs_match_brute_force() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..300 {
            let (agents, skills) = (rng.u64(1..=5), rng.u64(1..=5));
            let edges: Vec<(u64, u64)> = (0..rng.usize(1..=12))
                .map(|_| (rng.u64(1..=agents), 100 + rng.u64(1..=skills)))
                .collect();
            if edges
                .iter()
                .flat_map(|&(a, b)| [a, b])
                .collect::<std::collections::HashSet<_>>()
                .len()
                <= 10
            {
                check(&edges);
            }
        }
    }

    #[test]
    fn a_large_graph_finishes_and_covers_everything() {
        let mut rng = fastrand::Rng::with_seed(3);
        let edges: Vec<(u64, u64)> = (0..200_000)
            .map(|_| (rng.u64(0..20_000), rng.u64(0..500)))
            .collect();
        let cover = min_vertex_cover(&edges);
        assert!(cover.len() <= 500);
        let covered: usize = cover.iter().map(|(_, e)| e.len()).sum();
        let mut unique = edges.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(covered, unique.len());
        // Every edge once, each under a vertex it touches.
        let mut listed: Vec<(u64, u64)> = cover.iter().flat_map(|(_, e)| e.clone()).collect();
        listed.sort_unstable();
        assert!(listed == unique, "the cover's edges are not the graph's");
        for (side, assigned) in &cover {
            assert!(!assigned.is_empty(), "{side:?} covers nothing");
            assert!(
                assigned
                    .iter()
                    .all(|&(a, b)| *side == Side::Left(a) || *side == Side::Right(b)),
                "{side:?} is given an edge it does not touch"
            );
        }
    }
}

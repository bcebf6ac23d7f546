//! What a search checkpoint's network thinks of Strassen's path for 2x2x2
//! over Z2, against the schoolbook's: at each step of each scheme, the
//! network's (risk-seeking) value of the state and −log π of the scheme's
//! next term. It shows why pure self-play stays at rank 8: the terms of a
//! better scheme are improbable and its first states look worse.
//!
//!     cargo run --release --example strassen_path -- RUN_DIR

use tensorsearch::engine::cpu::CpuBackend;
use tensorsearch::game::{ActionEncoding, Example, GameConfig};
use tensorsearch::model::{Evaluator, ModelConfig, Network};
use tensorsearch::problem::{Decomposition, Field, Shape};
use tensorsearch::search::selfplay::{game_actions, risk_seeking_value};
use tensorsearch::train::batch::batch_of;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("give a 2x2x2 Z2 search directory (tiny preset)"))?;
    let field = Field::Z2;
    let shape = Shape::new(2, 2, 2).map_err(anyhow::Error::msg)?;
    let game = GameConfig::new(shape, field, 1, 8);
    let enc = ActionEncoding::default_for(shape, field);
    let b = &mut CpuBackend::new();
    let preset = ModelConfig::preset("tiny")?;
    let mut net = Network::new(b, preset, game.clone(), enc.clone(), 1, 0)?;
    net.init_from(b, std::path::Path::new(&dir))?;
    let mut ev = Evaluator::new(b, &net, 1, 1)?;
    let uniforms = vec![0.5; ev.uniforms_len()];
    let schemes = [
        ("Strassen", Decomposition::strassen()),
        ("schoolbook", Decomposition::standard(shape, Field::Z)),
    ];
    for (name, d) in schemes {
        let terms = game_actions(&d, &game);
        let mut residual = shape.dense_tensor();
        println!("{name}:");
        for (k, term) in terms.iter().enumerate() {
            let last = if k == 0 {
                vec![0; game.action_len()]
            } else {
                terms[k - 1].clone()
            };
            let e = Example {
                residual: residual.clone(),
                history: vec![last],
                step: k,
                action: term.clone(),
                value: 0.0,
            };
            let batch = batch_of(&game, &enc, std::slice::from_ref(&e));
            let value = risk_seeking_value(&ev.evaluate(b, &batch.states, &uniforms)?.quantiles);
            // The policy loss is the mean over the action's tokens.
            let nlp = net.evaluate(b, &batch)?.policy_loss * enc.n_tokens() as f32;
            println!(
                "  step {k}: value {value:6.2} (remaining terms {}), -log p(next term) {nlp:5.1}",
                terms.len() - k
            );
            game.subtract(&mut residual, term);
        }
    }
    Ok(())
}

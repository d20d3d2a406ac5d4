//! Save/load of [`RKalmanKron`]: per layer `cov_a/<weight>` and `cov_g/<weight>`, the fallback
//! optimizer's tensors as `fallback.<key>`; in `hyper` the layers, the fallback's header, the
//! RNG and the config (see [`super::state`]). A resumed run continues bit for bit.
use super::kron_step::RKalmanKron;
use super::state::{check, copy_all, save_with, Common, KronHyper};
use crate::optim::state::{StateDict, FALLBACK};
use anyhow::{bail, Context, Result};
use tch::Tensor;

impl RKalmanKron {
    fn all_names(&self) -> Vec<String> {
        self.params.iter().map(|(n, _)| n.clone()).collect()
    }

    pub(super) fn save(&self) -> Result<StateDict> {
        let mut tensors = Vec::new();
        for l in self.layers() {
            tensors.push((format!("cov_a/{}", l.weight), l.p_a.copy()));
            tensors.push((format!("cov_g/{}", l.weight), l.p_g.copy()));
        }
        let fallback = match &self.fallback {
            Some(fb) => {
                let (header, nested) = fb.state_dict()?.into_nested(FALLBACK);
                tensors.extend(nested);
                Some(header)
            }
            None => None,
        };
        let kron = KronHyper {
            layers: self
                .layers
                .as_ref()
                .map(|ls| ls.iter().map(|l| l.names()).collect()),
            fallback,
        };
        let names = self.all_names();
        let common = Common {
            cfg: &self.cfg,
            rng: &self.rng,
            step: self.step,
            names: &names,
            kron: Some(kron),
        };
        save_with(common, tensors)
    }

    /// Refuses a mismatching state before changing anything.
    pub(super) fn load(&mut self, state: &StateDict) -> Result<()> {
        let r = check(state, &self.all_names())?;
        let kron = r
            .kron
            .context("rkalman state is of the `cov: dense` form, this run is `cov: kron`")?;
        if r.config.fallback != self.cfg.fallback {
            bail!(
                "rkalman state has fallback {:?}, this run {:?}",
                r.config.fallback,
                self.cfg.fallback
            );
        }
        let (own, fb_tensors) = state.split_nested(FALLBACK);
        let (layers, fallback) = match &kron.layers {
            None => {
                own.check_keys(&[])?;
                (None, None)
            }
            Some(names) => {
                let (layers, mut fallback) = self.new_layers(names)?;
                let dst: Vec<(String, &Tensor)> = layers
                    .iter()
                    .flat_map(|l| {
                        [
                            (format!("cov_a/{}", l.weight), &l.p_a),
                            (format!("cov_g/{}", l.weight), &l.p_g),
                        ]
                    })
                    .collect();
                let keys: Vec<String> = dst.iter().map(|(k, _)| k.clone()).collect();
                own.check_keys(&keys)?;
                copy_all(&own, &dst)?;
                match (&mut fallback, kron.fallback) {
                    (Some(fb), Some(header)) => {
                        let tensors = fb_tensors;
                        fb.load_state_dict(&StateDict { header, tensors })?;
                    }
                    (None, None) => {}
                    _ => bail!(
                        "rkalman state and this model disagree on which parameters use the \
                         fallback"
                    ),
                }
                (Some(layers), fallback)
            }
        };
        self.layers = layers;
        self.factors.clear();
        self.fallback = fallback;
        self.rng = r.rng;
        self.step = r.step;
        self.cfg.lr = r.lr;
        Ok(())
    }
}

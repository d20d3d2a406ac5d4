//! Contiguous buffers behind a group's parameters and gradients.
//!
//! [`Flat::new`] copies a group's parameters into one 1-D buffer and points each parameter at
//! its slice (`set_data`, as `p.data = ...` in Python): the model's tensors and the VarStore keep
//! working, they now share storage with the buffer. Gradients are pointed at slices of a second
//! buffer the first time they exist; autograd then accumulates into them in place. The update
//! rule can run on the two buffers with a few whole-buffer ops (no `_foreach_*` ops needed;
//! tch 0.26 does not expose them).
//!
//! [`Flat::sync`] runs before every step and checks each alias by data pointer (no kernel
//! launch). A parameter whose storage was replaced (e.g. `VarStore::load`, which re-allocates)
//! is copied back into its slice and re-pointed; a gradient that is not an alias (the first
//! backward, `create_graph`) is copied into its slice. A parameter without a gradient counts as
//! gradient zero (PyTorch instead skips it): keep frozen parameters out of the optimizer.
use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// One parameter's place in the buffers.
#[derive(Debug)]
pub struct Slot {
    pub name: String,
    pub param: Tensor,
    pub offset: i64,
    pub numel: i64,
    pub shape: Vec<i64>,
    grad_aliased: bool,
}

/// The buffers of one group (one dtype and device).
#[derive(Debug)]
pub struct Flat {
    pub params: Tensor,
    pub grads: Tensor,
    pub slots: Vec<Slot>,
    pub kind: Kind,
    pub device: Device,
}

fn ptr(t: &Tensor) -> usize {
    t.data_ptr() as usize
}

impl Flat {
    /// Move `params` into one buffer (same dtype and device required; names are for errors).
    pub fn new(params: &[(String, Tensor)]) -> Result<Flat> {
        let Some((_, first)) = params.first() else {
            bail!("an optimizer group without parameters");
        };
        let (kind, device) = (first.kind(), first.device());
        let mut slots = Vec::with_capacity(params.len());
        let mut offset = 0;
        for (name, p) in params {
            if p.kind() != kind || p.device() != device {
                bail!(
                    "parameter `{name}` is {:?} on {:?}, the rest of its group {kind:?} on \
                     {device:?}: one group holds one dtype and device",
                    p.kind(),
                    p.device()
                );
            }
            let numel = p.numel() as i64;
            let shape = p.size();
            let param = p.shallow_clone();
            slots.push(Slot {
                name: name.clone(),
                param,
                offset,
                numel,
                shape,
                grad_aliased: false,
            });
            offset += numel;
        }
        let opts = (kind, device);
        let mut flat = Flat {
            params: Tensor::zeros([offset], opts),
            grads: Tensor::zeros([offset], opts),
            slots,
            kind,
            device,
        };
        for i in 0..flat.slots.len() {
            flat.point_param(i)?;
        }
        Ok(flat)
    }

    /// Slot `i` of `buf` (a flat buffer of this group) with the parameter's shape.
    pub fn view(&self, buf: &Tensor, i: usize) -> Tensor {
        let s = &self.slots[i];
        buf.narrow(0, s.offset, s.numel).view(s.shape.as_slice())
    }

    pub fn numel(&self) -> i64 {
        self.params.numel() as i64
    }

    fn point_param(&mut self, i: usize) -> Result<()> {
        let mut view = self.view(&self.params, i);
        let s = &mut self.slots[i];
        if s.param.kind() != self.kind
            || s.param.device() != self.device
            || s.param.size() != s.shape
        {
            bail!(
                "parameter `{}` changed dtype, device or shape after the optimizer was built",
                s.name
            );
        }
        tch::no_grad(|| view.f_copy_(&s.param))?;
        s.param.f_set_data(&view)?;
        Ok(())
    }

    /// Make every parameter and gradient an alias of its slot (see the module doc).
    pub fn sync(&mut self) -> Result<()> {
        let (pbase, gbase) = (ptr(&self.params), ptr(&self.grads));
        let elt = self.kind.elt_size_in_bytes();
        for i in 0..self.slots.len() {
            let at = self.slots[i].offset as usize * elt;
            if ptr(&self.slots[i].param) != pbase + at {
                self.point_param(i)?;
            }
            let mut g = self.slots[i].param.grad();
            if !g.defined() {
                let _ = self.view(&self.grads, i).zero_();
                self.slots[i].grad_aliased = false;
            } else if !(self.slots[i].grad_aliased && ptr(&g) == gbase + at) {
                let mut view = self.view(&self.grads, i);
                if g.size() != self.slots[i].shape || g.kind() != self.kind {
                    bail!(
                        "gradient of `{}` has the wrong shape or dtype",
                        self.slots[i].name
                    );
                }
                tch::no_grad(|| view.f_copy_(&g))?;
                g.f_set_data(&view)?;
                self.slots[i].grad_aliased = true;
            }
        }
        Ok(())
    }

    /// Re-point only the parameters whose storage was replaced (for users of the parameter
    /// buffer alone, whose gradients stay separate tensors).
    pub fn sync_params(&mut self) -> Result<()> {
        let base = ptr(&self.params);
        let elt = self.kind.elt_size_in_bytes();
        for i in 0..self.slots.len() {
            if ptr(&self.slots[i].param) != base + self.slots[i].offset as usize * elt {
                self.point_param(i)?;
            }
        }
        Ok(())
    }

    /// Zero the gradient buffer (aliased gradients follow; others are fixed by `sync`).
    pub fn zero_grad(&mut self) {
        let _ = self.grads.zero_();
        for s in &mut self.slots {
            if !s.grad_aliased {
                s.param.zero_grad();
            }
        }
    }
}

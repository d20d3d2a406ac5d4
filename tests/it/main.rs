//! The one integration-test binary: every test module links lab (and libtorch) once.

// The tests call tch directly (libtorch is loaded before they start) and LAPACK from
// harness threads (which get 16 MiB stacks).
lab::prepare_test_process!();
mod cli;
mod cli_docs;
#[allow(dead_code)]
mod common;
mod config_errors;
mod data_batches;
mod data_common;
mod data_corpus;
mod data_kjv;
mod data_markov;
mod data_tokenizers;
mod decompose_accuracy;
mod decompose_certs;
mod decompose_circulant;
mod decompose_cli;
#[allow(dead_code)]
mod decompose_common;
mod decompose_driver;
mod decompose_exact;
mod decompose_finance;
mod decompose_memory;
mod decompose_oracle;
mod decompose_pattern_files;
mod decompose_props;
mod docs_numbers;
mod entropy_controller;
mod entropy_controller_config;
mod entropy_controller_toys;
mod entropy_metrics;
mod entropy_ngram;
mod entropy_probe_dir;
mod entropy_text;
mod entropy_textfile;
mod entropy_theory;
mod entropy_train;
mod entropy_verdict;
mod envs_golden;
mod envs_gym;
mod envs_vec;
mod full_disk;
mod input_errors;
mod interrupt;
mod layers;
#[allow(dead_code)]
mod nn_common;
mod nn_config;
mod nn_decode;
mod nn_grad;
mod nn_models;
mod nn_sample;
mod nn_train;
mod nn_window;
mod npg_cli;
mod npg_exact;
mod npg_fisher;
mod npg_gae_cg;
mod npg_native;
mod npg_nn;
mod npg_ppo;
mod npg_rank1;
mod npg_rollout;
mod npg_toys;
mod npg_trust_region;
mod optim_adamw;
mod optim_checkpoint;
mod optim_loss;
mod optim_state;
mod plot_look;
mod progress_end;
mod report;
mod report_read;
mod startup;
mod study;
mod study_locks;

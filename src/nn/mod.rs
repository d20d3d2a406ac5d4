//! Neural-network pieces shared by the language-model subcommands.
pub mod checkpoint;
pub mod loss;

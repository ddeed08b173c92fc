//! The local CXone tenant (being built).

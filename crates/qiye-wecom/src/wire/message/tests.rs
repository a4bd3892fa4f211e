//! Tests of the message wire shapes.

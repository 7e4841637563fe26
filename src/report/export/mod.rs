//! Exporters: one per file format, each a pure function from report data to text (or an
//! error for the SVG backend). The writer decides where the text goes.

pub mod csv;
pub mod fields;
pub mod hgrm;
pub mod hlog;
pub mod html;
pub mod json;
pub mod markdown;
mod markdown_class;
pub mod runtime_log;
pub mod svg;
mod svg_extra;

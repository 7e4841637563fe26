//! Presentation: reads plain result data and renders it (terminal tables, files, plots).
//! Nothing here measures or starts processes.

mod classes;

pub use classes::classes_table;

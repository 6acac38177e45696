//! Console pages of surveys and the public form.

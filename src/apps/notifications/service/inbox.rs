//! Staff in-app notifications (the topbar bell).

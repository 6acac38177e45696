//! Identifiers: UUID v7, so primary keys sort by creation time and index well.

use uuid::Uuid;

pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_v7_and_increase() {
        let a = super::new_id();
        let b = super::new_id();
        assert_eq!(a.get_version_num(), 7);
        assert!(b > a);
    }
}

//! The survey engine as pure functions (no database): question choices, branch conditions, answer
//! validation and scoring exactly as SPEC.md rule 6. Services load rows and call these.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// One offered choice of a single- or multiple-choice question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Choice {
    /// Stable value sent by the form (e.g. `"clean"`).
    pub value: String,
    pub label_en: String,
    #[serde(default)]
    pub label_ar: String,
    /// 0–100.
    pub score: f64,
}

/// Operators of a branch condition.
pub const BRANCH_OPS: &[&str] = &["eq", "ne", "lt", "lte", "gt", "gte", "in", "answered"];

/// "Show this question only when the answer to an earlier `question` meets `op value`."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Branch {
    pub question: Uuid,
    pub op: String,
    #[serde(default)]
    pub value: Value,
}

/// A question as the engine needs it.
#[derive(Debug, Clone)]
pub struct Q {
    pub id: Uuid,
    pub order: i32,
    pub qtype: String,
    pub required: bool,
    pub weight: f64,
    pub choices: Vec<Choice>,
    pub branch: Option<Branch>,
}

/// A validated answer: the value to store, its text, and its 0–100 score (`None` for free text).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub question: Uuid,
    pub value: Value,
    pub text: String,
    pub score: Option<f64>,
}

pub fn is_choice_type(t: &str) -> bool {
    matches!(t, "SINGLE_CHOICE" | "MULTIPLE_CHOICE")
}

/// Checks a question's choices for its type. Returns the messages (empty when fine).
pub fn check_choices(qtype: &str, choices: &[Choice]) -> Vec<String> {
    let mut out = vec![];
    if is_choice_type(qtype) {
        if choices.len() < 2 {
            out.push("Give at least two choices.".to_string());
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in choices {
            if c.value.trim().is_empty() || c.value.chars().count() > 50 {
                out.push("Each choice needs a value of 1 to 50 characters.".to_string());
            } else if !seen.insert(c.value.as_str()) {
                out.push(format!("The choice value \"{}\" is used twice.", c.value));
            }
            if c.label_en.trim().is_empty() {
                out.push("Each choice needs an English label.".to_string());
            }
            if !(0.0..=100.0).contains(&c.score) || !c.score.is_finite() {
                out.push("Choice scores must be between 0 and 100.".to_string());
            }
        }
    } else if !choices.is_empty() {
        out.push("Only single- and multiple-choice questions take choices.".to_string());
    }
    out.dedup();
    out
}

/// Checks a branch condition against the questions that come before this one in the template.
pub fn check_branch(b: &Branch, order: i32, others: &[Q]) -> Result<(), String> {
    if !BRANCH_OPS.contains(&b.op.as_str()) {
        return Err(format!(
            "\"{}\" is not a valid operator; allowed: {}",
            b.op,
            BRANCH_OPS.join(", ")
        ));
    }
    let Some(src) = others.iter().find(|q| q.id == b.question) else {
        return Err("The condition must name a question of the same template.".into());
    };
    if src.order >= order {
        return Err("The condition must name a question that comes earlier.".into());
    }
    if src.qtype == "TEXT" && b.op != "answered" {
        return Err("A free-text answer can only be tested with \"answered\".".into());
    }
    match b.op.as_str() {
        "answered" => Ok(()),
        "lt" | "lte" | "gt" | "gte" => {
            if matches!(src.qtype.as_str(), "RATING" | "LIKERT" | "NPS") && b.value.is_number() {
                Ok(())
            } else {
                Err("Comparisons need a rating, Likert or NPS question and a number.".into())
            }
        }
        "in" => match b.value.as_array() {
            Some(a) if !a.is_empty() => Ok(()),
            _ => Err("\"in\" needs a non-empty list of values.".into()),
        },
        _ => {
            if b.value.is_null() {
                Err("The condition needs a value.".into())
            } else {
                Ok(())
            }
        }
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Whether a stored answer meets a condition.
fn meets(b: &Branch, answer: Option<&Value>) -> bool {
    let Some(a) = answer else {
        return false;
    };
    let eq = |x: &Value, y: &Value| match (as_f64(x), as_f64(y)) {
        (Some(p), Some(q)) => (p - q).abs() < f64::EPSILON,
        _ => x == y,
    };
    let contains = |x: &Value| match a {
        Value::Array(items) => items.iter().any(|i| eq(i, x)),
        other => eq(other, x),
    };
    let cmp = |f: fn(f64, f64) -> bool| match (as_f64(a), as_f64(&b.value)) {
        (Some(p), Some(q)) => f(p, q),
        _ => false,
    };
    match b.op.as_str() {
        "answered" => true,
        "eq" => contains(&b.value),
        "ne" => !contains(&b.value),
        "lt" => cmp(|p, q| p < q),
        "lte" => cmp(|p, q| p <= q),
        "gt" => cmp(|p, q| p > q),
        "gte" => cmp(|p, q| p >= q),
        "in" => b.value.as_array().is_some_and(|vs| vs.iter().any(contains)),
        _ => false,
    }
}

/// Whether `q` is shown given the answers so far (a question hidden by its condition is not shown,
/// and neither is one whose source question was itself hidden or left blank).
pub fn visible(q: &Q, answers: &HashMap<Uuid, Value>) -> bool {
    match &q.branch {
        None => true,
        Some(b) => meets(b, answers.get(&b.question)),
    }
}

/// Validates one given answer against its question; `Ok(None)` means "left blank".
///
/// # Errors
/// A patient-facing message.
pub fn check_answer(q: &Q, v: &Value) -> Result<Option<Answer>, String> {
    let blank = match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if blank {
        return Ok(None);
    }
    let int_in = |lo: i64, hi: i64| -> Result<i64, String> {
        let n = v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .or_else(|| v.as_str().and_then(|s| s.trim().parse::<i64>().ok()));
        match n {
            Some(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(format!("Choose a whole number from {lo} to {hi}.")),
        }
    };
    let answer = |value: Value, text: String, score: Option<f64>| {
        Ok(Some(Answer {
            question: q.id,
            value,
            text,
            score,
        }))
    };
    match q.qtype.as_str() {
        "RATING" | "LIKERT" => {
            let n = int_in(1, 5)?;
            answer(Value::from(n), n.to_string(), Some((n - 1) as f64 * 25.0))
        }
        "NPS" => {
            let n = int_in(0, 10)?;
            answer(Value::from(n), n.to_string(), Some(n as f64 * 10.0))
        }
        "YES_NO" => {
            let b = match v {
                Value::Bool(b) => Some(*b),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "yes" | "true" => Some(true),
                    "no" | "false" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            match b {
                Some(b) => answer(
                    Value::Bool(b),
                    if b { "yes" } else { "no" }.into(),
                    Some(if b { 100.0 } else { 0.0 }),
                ),
                None => Err("Answer yes or no.".into()),
            }
        }
        "SINGLE_CHOICE" => {
            let s = v.as_str().unwrap_or_default();
            match q.choices.iter().find(|c| c.value == s) {
                Some(c) => answer(Value::from(s), s.to_string(), Some(c.score)),
                None => Err("Choose one of the options offered.".into()),
            }
        }
        "MULTIPLE_CHOICE" => {
            let Some(items) = v.as_array() else {
                return Err("Choose one or more of the options offered.".into());
            };
            let mut picked: Vec<&Choice> = vec![];
            for i in items {
                let s = i.as_str().unwrap_or_default();
                match q.choices.iter().find(|c| c.value == s) {
                    Some(c) if !picked.iter().any(|p| p.value == c.value) => picked.push(c),
                    Some(_) => {}
                    None => return Err("Choose only among the options offered.".into()),
                }
            }
            // Several choices score as the mean of their declared scores.
            let score = picked.iter().map(|c| c.score).sum::<f64>() / picked.len() as f64;
            let values: Vec<Value> = picked
                .iter()
                .map(|c| Value::from(c.value.clone()))
                .collect();
            let text = picked
                .iter()
                .map(|c| c.value.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            answer(Value::Array(values), text, Some(score))
        }
        "TEXT" => match v.as_str() {
            Some(s) if s.chars().count() <= 2000 => {
                answer(Value::from(s.trim()), s.trim().to_string(), None)
            }
            Some(_) => Err("Keep your comment under 2,000 characters.".into()),
            None => Err("Write your answer as text.".into()),
        },
        _ => Err("This question cannot be answered.".into()),
    }
}

/// Validates a whole submission: every key a question of the template, each answer valid, every
/// required visible question answered, no hidden question answered. Errors are keyed by question id.
///
/// # Errors
/// Question id → messages; nothing may be saved.
pub fn check_submission(
    questions: &[Q],
    given: &serde_json::Map<String, Value>,
) -> Result<Vec<Answer>, BTreeMap<String, Vec<String>>> {
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let known: HashMap<String, &Q> = questions.iter().map(|q| (q.id.to_string(), q)).collect();
    for k in given.keys() {
        if !known.contains_key(k) {
            errors
                .entry(k.clone())
                .or_default()
                .push("This question is not part of the survey.".into());
        }
    }
    let mut ordered: Vec<&Q> = questions.iter().collect();
    ordered.sort_by_key(|q| (q.order, q.id));
    let mut accepted: HashMap<Uuid, Value> = HashMap::new();
    let mut out = vec![];
    for q in ordered {
        let key = q.id.to_string();
        let shown = visible(q, &accepted);
        let raw = given.get(&key);
        let checked = match raw {
            Some(v) => check_answer(q, v),
            None => Ok(None),
        };
        match checked {
            Err(m) => errors.entry(key).or_default().push(m),
            Ok(Some(_)) if !shown => errors
                .entry(key)
                .or_default()
                .push("This question is not shown for your earlier answers.".into()),
            Ok(None) if shown && q.required => errors
                .entry(key)
                .or_default()
                .push("Please answer this question.".into()),
            Ok(Some(a)) => {
                accepted.insert(q.id, a.value.clone());
                out.push(a);
            }
            Ok(None) => {}
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The result of scoring one instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// AVERAGE / WEIGHTED: 0–100; NPS: the 0–10 answer. `None` when nothing scorable was answered.
    pub score: Option<f64>,
    pub is_negative: bool,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// SPEC rule 6 for one instance. `threshold` is the template override, else the hospital setting,
/// else 60 (the caller resolves it); negative is strictly below it. For NPS the score is the first NPS
/// answer (0–10) and ≤ 6 (a detractor) is negative.
pub fn score(method: &str, questions: &[Q], answers: &[Answer], threshold: i32) -> Scored {
    let by_id: HashMap<Uuid, &Q> = questions.iter().map(|q| (q.id, q)).collect();
    if method == "NPS" {
        let mut nps: Vec<(&Q, &Answer)> = answers
            .iter()
            .filter_map(|a| by_id.get(&a.question).map(|q| (*q, a)))
            .filter(|(q, _)| q.qtype == "NPS")
            .collect();
        nps.sort_by_key(|(q, _)| (q.order, q.id));
        return match nps.first().and_then(|(_, a)| a.value.as_f64()) {
            Some(v) => Scored {
                score: Some(v),
                is_negative: v <= 6.0,
            },
            None => Scored {
                score: None,
                is_negative: false,
            },
        };
    }
    let (mut sum, mut weights) = (0.0, 0.0);
    for a in answers {
        let (Some(s), Some(q)) = (a.score, by_id.get(&a.question)) else {
            continue;
        };
        let w = if method == "WEIGHTED" { q.weight } else { 1.0 };
        if w > 0.0 {
            sum += s * w;
            weights += w;
        }
    }
    if weights == 0.0 {
        return Scored {
            score: None,
            is_negative: false,
        };
    }
    let s = round2(sum / weights);
    Scored {
        score: Some(s),
        is_negative: s < f64::from(threshold),
    }
}

/// Aggregate NPS of many 0–10 answers: % promoters (9–10) − % detractors (0–6), −100 to 100.
pub fn nps(answers: &[i64]) -> Option<f64> {
    if answers.is_empty() {
        return None;
    }
    let n = answers.len() as f64;
    let promoters = answers.iter().filter(|a| **a >= 9).count() as f64;
    let detractors = answers.iter().filter(|a| **a <= 6).count() as f64;
    Some(round2((promoters - detractors) * 100.0 / n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(order: i32, t: &str) -> Q {
        Q {
            id: Uuid::now_v7(),
            order,
            qtype: t.into(),
            required: true,
            weight: 1.0,
            choices: vec![],
            branch: None,
        }
    }

    fn choices() -> Vec<Choice> {
        vec![
            Choice {
                value: "clean".into(),
                label_en: "Clean".into(),
                label_ar: "نظيف".into(),
                score: 100.0,
            },
            Choice {
                value: "dirty".into(),
                label_en: "Dirty".into(),
                label_ar: "متسخ".into(),
                score: 0.0,
            },
        ]
    }

    #[test]
    fn aggregate_nps_of_10_9_8_7_6_0_is_zero_and_a_6_is_a_detractor() {
        assert_eq!(nps(&[10, 9, 8, 7, 6, 0]), Some(0.0));
        assert_eq!(nps(&[6]), Some(-100.0));
        assert_eq!(nps(&[9, 10]), Some(100.0));
        assert_eq!(nps(&[7, 8]), Some(0.0));
        assert_eq!(nps(&[]), None);
    }

    #[test]
    fn each_type_maps_to_0_100_as_spec_rule_6_says() {
        let mut c = q(1, "SINGLE_CHOICE");
        c.choices = choices();
        let cases = [
            (q(1, "RATING"), json!(1), Some(0.0)),
            (q(1, "RATING"), json!(5), Some(100.0)),
            (q(1, "LIKERT"), json!(3), Some(50.0)),
            (q(1, "NPS"), json!(7), Some(70.0)),
            (q(1, "YES_NO"), json!(true), Some(100.0)),
            (q(1, "YES_NO"), json!(false), Some(0.0)),
            (c, json!("clean"), Some(100.0)),
            (q(1, "TEXT"), json!("great"), None),
        ];
        for (question, v, want) in cases {
            let a = check_answer(&question, &v).unwrap().unwrap();
            assert_eq!(a.score, want, "{} {v}", question.qtype);
        }
    }

    #[test]
    fn out_of_range_and_unknown_choices_are_refused() {
        assert!(check_answer(&q(1, "RATING"), &json!(6)).is_err());
        assert!(check_answer(&q(1, "RATING"), &json!(0)).is_err());
        assert!(check_answer(&q(1, "NPS"), &json!(11)).is_err());
        assert!(check_answer(&q(1, "RATING"), &json!(2.5)).is_err());
        let mut c = q(1, "MULTIPLE_CHOICE");
        c.choices = choices();
        assert!(check_answer(&c, &json!(["clean", "shiny"])).is_err());
        let a = check_answer(&c, &json!(["clean", "dirty"]))
            .unwrap()
            .unwrap();
        assert_eq!(a.score, Some(50.0));
    }

    #[test]
    fn average_weighted_and_nps_methods() {
        let mut a = q(1, "RATING");
        let mut b = q(2, "YES_NO");
        let t = q(3, "TEXT");
        a.weight = 3.0;
        b.weight = 1.0;
        let qs = vec![a.clone(), b.clone(), t.clone()];
        let answers = vec![
            check_answer(&a, &json!(5)).unwrap().unwrap(),
            check_answer(&b, &json!(false)).unwrap().unwrap(),
            check_answer(&t, &json!("ok")).unwrap().unwrap(),
        ];
        let avg = score("AVERAGE", &qs, &answers, 60);
        assert_eq!(avg.score, Some(50.0));
        assert!(avg.is_negative);
        let w = score("WEIGHTED", &qs, &answers, 60);
        assert_eq!(w.score, Some(75.0));
        assert!(!w.is_negative);
        // Strictly less: exactly the threshold is not negative.
        assert!(!score("AVERAGE", &qs, &answers, 50).is_negative);
        let n = q(1, "NPS");
        let s = score(
            "NPS",
            std::slice::from_ref(&n),
            &[check_answer(&n, &json!(6)).unwrap().unwrap()],
            60,
        );
        assert_eq!(s.score, Some(6.0));
        assert!(s.is_negative);
        let s = score(
            "NPS",
            std::slice::from_ref(&n),
            &[check_answer(&n, &json!(7)).unwrap().unwrap()],
            60,
        );
        assert!(!s.is_negative);
    }

    #[test]
    fn a_submission_reports_every_problem_by_question_and_respects_branches() {
        let r = q(1, "RATING");
        let mut why = q(2, "TEXT");
        why.branch = Some(Branch {
            question: r.id,
            op: "lte".into(),
            value: json!(2),
        });
        let yn = q(3, "YES_NO");
        let qs = vec![r.clone(), why.clone(), yn.clone()];
        let mut given = serde_json::Map::new();
        given.insert(r.id.to_string(), json!(5));
        given.insert(why.id.to_string(), json!("hidden but answered"));
        given.insert(Uuid::now_v7().to_string(), json!(1));
        let e = check_submission(&qs, &given).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[&why.id.to_string()][0].contains("not shown"));
        assert!(e[&yn.id.to_string()][0].contains("answer"));
        // A low rating shows the follow-up, which is then required.
        let mut given = serde_json::Map::new();
        given.insert(r.id.to_string(), json!(1));
        given.insert(yn.id.to_string(), json!(true));
        let e = check_submission(&qs, &given).unwrap_err();
        assert!(e.contains_key(&why.id.to_string()));
        given.insert(why.id.to_string(), json!("rude"));
        assert_eq!(check_submission(&qs, &given).unwrap().len(), 3);
    }

    #[test]
    fn branch_conditions_are_checked_against_earlier_questions() {
        let r = q(1, "RATING");
        let t = q(2, "TEXT");
        let others = vec![r.clone(), t.clone()];
        let ok = Branch {
            question: r.id,
            op: "lte".into(),
            value: json!(2),
        };
        assert!(check_branch(&ok, 3, &others).is_ok());
        assert!(check_branch(&ok, 1, &others).is_err());
        let bad_op = Branch {
            op: "like".into(),
            ..ok.clone()
        };
        assert!(check_branch(&bad_op, 3, &others).is_err());
        let text_cmp = Branch {
            question: t.id,
            op: "eq".into(),
            value: json!("x"),
        };
        assert!(check_branch(&text_cmp, 3, &others).is_err());
        let unknown = Branch {
            question: Uuid::now_v7(),
            ..ok
        };
        assert!(check_branch(&unknown, 3, &others).is_err());
    }

    #[test]
    fn choices_are_checked_for_their_type() {
        assert!(check_choices("SINGLE_CHOICE", &choices()).is_empty());
        assert!(!check_choices("SINGLE_CHOICE", &choices()[..1]).is_empty());
        assert!(!check_choices("RATING", &choices()).is_empty());
        let mut dup = choices();
        dup[1].value = "clean".into();
        assert!(!check_choices("MULTIPLE_CHOICE", &dup).is_empty());
    }
}

//! The demo's other cycles: a marketing team whose reviews show every phase of a cycle
//! besides the main one, with the history a company has after a year of use.
//!
//! The team (`director@` and `marketing1@` … `marketing4@`, department Marketing) joins
//! after the main cycle is seeded and takes part in these cycles only, so the main
//! cycle, its progress and the reviews of `manager@` and `employee1@` … stay as they
//! are. Everything is done through the operations people use (write, submit, advance,
//! calibrate, share, sign, nominate, decide, close); only the cycles' creation times
//! are moved back afterwards, so that the main cycle stays the newest one.

use std::collections::HashMap;

use kaizen_actors::CompanyHandle;
use kaizen_actors::company::comment::{Commented, NewComment};
use kaizen_actors::company::feedback::{FeedbackSettingsUpdate, NewNominations, Nominator};
use kaizen_actors::company::objective::{
    CycleLinkUpdate, NewObjective, ObjectiveLevel, ObjectiveStatus,
};
use kaizen_actors::company::people::PersonRow;
use kaizen_actors::db::now_ms;
use kaizen_actors::model::{
    Answer, CalibrationUpdate, Client, Cycle, Deadlines, DraftUpdate, NewCycle, Principal,
    QuestionKind, ReviewKind, ReviewStatus, ReviewSummary, UserRole, rfc3339,
};

use super::{Person, acting, feedback, measured, percent, question};

/// The team's department.
pub(super) const DEPARTMENT: &str = "Marketing";

/// The closed cycle of last year.
pub const CLOSED_CYCLE: &str = "2025 Annual Review";
/// The cycle in sign-off, with named 360 feedback whose results are released.
pub const SIGN_OFF_CYCLE: &str = "2026 Mid-Year Review";
/// The cycle in its sharing phase.
pub const SHARING_CYCLE: &str = "2026 Q3 Marketing Check-in";
/// The cycle still collecting self reviews.
pub const SELF_REVIEW_CYCLE: &str = "2026 Marketing Winter Check-in";

const DAY_MS: i64 = 24 * 3_600_000;

/// How many people report to `director@`.
const MEMBERS: usize = 4;

/// The marketing team: its director, who reports to `ceo@`, and the director's
/// reports. Their names never contain "Employee" or "Report", which the main team's
/// do, so that a search for one of those finds no one here.
pub(super) fn team() -> Vec<Person> {
    let person = |local: String, name: &str, manager| Person {
        local,
        name: name.to_owned(),
        role: UserRole::Employee,
        manager: Some(manager),
        self_review: ReviewStatus::NotStarted,
    };
    let names = ["Nia Banks", "Omar Hill", "Pia Stone", "Quinn Ford"];
    std::iter::once(person("director".to_owned(), "Dana Park", "ceo"))
        .chain(
            names
                .iter()
                .enumerate()
                .map(|(n, name)| person(member(n + 1), name, "director")),
        )
        .collect()
}

/// The local part of the `n`th team member's email (from 1).
fn member(n: usize) -> String {
    format!("marketing{n}")
}

/// The reviews of the team, found by cycle, kind and reviewee.
type ReviewIndex = HashMap<(String, bool, String), ReviewSummary>;

/// The index's key of a review: its cycle, whether it is a self review, its reviewee.
fn key(cycle_id: &str, kind: ReviewKind, reviewee_id: &str) -> (String, bool, String) {
    (
        cycle_id.to_owned(),
        kind == ReviewKind::SelfReview,
        reviewee_id.to_owned(),
    )
}

/// What seeding the team's cycles works with.
struct Seeder<'a> {
    handle: &'a CompanyHandle,
    hr: &'a Principal,
    ids: &'a HashMap<String, String>,
    reviews: ReviewIndex,
}

/// Seeds the team's department, its four cycles, the named feedback and the team's
/// objectives. `ids` maps each demo user's local part to their id and holds the team;
/// `growth` is the company objective the team's objective is aligned to.
pub(super) async fn seed(
    handle: &CompanyHandle,
    hr: &Principal,
    slug: &str,
    ids: &HashMap<String, String>,
    growth: &str,
) -> anyhow::Result<()> {
    place_in_department(handle, hr, slug).await?;

    // The cycles, each created by HR as in real use; their reviews are looked up once.
    let now = now_ms();
    let members: Vec<String> = (1..=MEMBERS).map(|n| id_of(ids, &member(n))).collect();
    let text = "What went well, and what would you do differently?";
    let rating = "Overall (1 = poorly, 5 = very well)";
    let questions = || {
        vec![
            question(QuestionKind::Text, text),
            question(QuestionKind::Rating, rating),
        ]
    };
    let closed_start = now - 395 * DAY_MS;
    let at = |start: i64, days: i64| Some(rfc3339(start + days * DAY_MS));
    let closed = NewCycle {
        name: CLOSED_CYCLE.to_owned(),
        questions: questions(),
        participants: Some(members.clone()),
        due_at: at(closed_start, 42),
        deadlines: Some(Deadlines {
            self_review: at(closed_start, 14),
            manager_review: at(closed_start, 28),
            sign_off: at(closed_start, 42),
        }),
        ..NewCycle::default()
    };
    // The open cycles have no phase deadlines: a deadline sends reminders, and the
    // demo's mail should only be what people cause.
    let sign_off = NewCycle {
        name: SIGN_OFF_CYCLE.to_owned(),
        questions: questions(),
        participants: Some(members.clone()),
        due_at: at(now, 14),
        ..NewCycle::default()
    };
    let sharing = NewCycle {
        name: SHARING_CYCLE.to_owned(),
        questions: questions(),
        participants: Some(members.clone()),
        due_at: at(now, 30),
        ..NewCycle::default()
    };
    let self_review = NewCycle {
        name: SELF_REVIEW_CYCLE.to_owned(),
        questions: questions(),
        departments: Some(vec![DEPARTMENT.to_owned()]),
        due_at: at(now, 45),
        ..NewCycle::default()
    };
    let mut cycles = Vec::new();
    for new in [closed, sign_off, sharing, self_review] {
        cycles.push(
            handle
                .create_cycle(hr.clone(), new, Client::system())
                .await?,
        );
    }
    let mut seeder = Seeder {
        handle,
        hr,
        ids,
        reviews: HashMap::new(),
    };
    seeder.index_reviews().await?;

    // Each cycle taken to its phase, then moved back to when it began.
    let [closed, sign_off, sharing, self_review] = &cycles[..] else {
        anyhow::bail!("the demo's team cycles were not all created");
    };
    seeder.closed(closed).await?;
    seeder.sign_off(sign_off).await?;
    seeder.sharing(sharing).await?;
    seeder.self_review(self_review).await?;
    let started = [
        (closed, closed_start),
        (sign_off, now - 160 * DAY_MS),
        (sharing, now - 70 * DAY_MS),
        (self_review, now - 9 * DAY_MS),
    ];
    for (cycle, at) in started {
        handle.seed_backdate_cycle(cycle.id.clone(), at).await?;
    }

    seeder
        .objectives(growth, closed, sign_off, self_review)
        .await
}

/// The id of a demo user by local part; empty (and so refused by the actor) if absent.
fn id_of(ids: &HashMap<String, String>, local: &str) -> String {
    ids.get(local).cloned().unwrap_or_default()
}

/// Puts the team into its department as HR would: an org-chart import of its rows.
async fn place_in_department(
    handle: &CompanyHandle,
    hr: &Principal,
    slug: &str,
) -> anyhow::Result<()> {
    // An import is a sensitive action: HR has entered the password again.
    let hr = Principal {
        elevated_until: now_ms() + 60_000,
        ..hr.clone()
    };
    let rows = team()
        .into_iter()
        .enumerate()
        .map(|(n, person)| PersonRow {
            line: n + 2,
            email: format!("{}@{slug}.example", person.local),
            name: person.name,
            department: DEPARTMENT.to_owned(),
            manager_email: person
                .manager
                .map(|m| format!("{m}@{slug}.example"))
                .unwrap_or_default(),
            role: String::new(),
        })
        .collect();
    let report = handle
        .import_people(hr, rows, false, Client::system())
        .await?;
    if !report.errors.is_empty() {
        anyhow::bail!("the demo's team could not be placed: {:?}", report.errors);
    }
    Ok(())
}

impl Seeder<'_> {
    fn user(&self, local: &str) -> Principal {
        acting(self.handle, &id_of(self.ids, local), false)
    }

    /// Looks up every review the team writes, in every cycle.
    async fn index_reviews(&mut self) -> anyhow::Result<()> {
        let writers = std::iter::once("director".to_owned()).chain((1..=MEMBERS).map(member));
        for writer in writers {
            for review in self.handle.list_reviews(self.user(&writer)).await? {
                let key = key(&review.cycle_id, review.kind, &review.reviewee_id);
                self.reviews.insert(key, review);
            }
        }
        Ok(())
    }

    /// The review of `kind` about team member `n` in `cycle`.
    fn review(&self, cycle: &Cycle, kind: ReviewKind, n: usize) -> anyhow::Result<&ReviewSummary> {
        let key = key(&cycle.id, kind, &id_of(self.ids, &member(n)));
        self.reviews
            .get(&key)
            .ok_or_else(|| anyhow::anyhow!("the demo's {} is missing a review", cycle.name))
    }

    /// Writes a review as its writer would, and submits it when `submit`.
    async fn write(
        &self,
        cycle: &Cycle,
        kind: ReviewKind,
        n: usize,
        rating: i64,
        submit: bool,
    ) -> anyhow::Result<()> {
        let review = self.review(cycle, kind, n)?;
        let writer = acting(self.handle, &review.reviewer_id, false);
        let words = match kind {
            ReviewKind::SelfReview => format!(
                "{} ran the campaign calendar and would plan the launches earlier.",
                review.reviewee_name
            ),
            ReviewKind::Manager => format!(
                "{} kept the team's work visible; next, more ownership of the budget.",
                review.reviewee_name
            ),
        };
        let answers = cycle
            .questions
            .iter()
            .map(|q| {
                let answer = if q.kind == QuestionKind::Rating {
                    Answer::Rating(rating)
                } else {
                    Answer::Text(words.clone())
                };
                (q.id.clone(), Some(answer))
            })
            .collect();
        let update = DraftUpdate {
            answers,
            version: review.version,
        };
        let id = review.id.clone();
        self.handle
            .save_draft(writer.clone(), id.clone(), update, Client::system())
            .await?;
        if submit {
            self.handle
                .submit_review(writer, id, Client::system())
                .await?;
        }
        Ok(())
    }

    /// Self reviews of every member, then the director's reviews of them, submitted.
    async fn write_all(&self, cycle: &Cycle) -> anyhow::Result<()> {
        for n in 1..=MEMBERS {
            self.write(cycle, ReviewKind::SelfReview, n, 4, true)
                .await?;
        }
        self.advance(cycle, 1).await?;
        for n in 1..=MEMBERS {
            let rating = 3 + i64::from(n % 3 == 0);
            self.write(cycle, ReviewKind::Manager, n, rating, true)
                .await?;
        }
        Ok(())
    }

    async fn advance(&self, cycle: &Cycle, times: usize) -> anyhow::Result<()> {
        for _ in 0..times {
            self.handle
                .advance_cycle(self.hr.clone(), cycle.id.clone(), None, Client::system())
                .await?;
        }
        Ok(())
    }

    /// HR sets a calibrated overall rating on member `n`'s manager review.
    async fn calibrate(&self, cycle: &Cycle, n: usize, rating: i64) -> anyhow::Result<()> {
        let review = self.review(cycle, ReviewKind::Manager, n)?;
        let ratings = cycle
            .questions
            .iter()
            .filter(|q| q.kind == QuestionKind::Rating)
            .map(|q| (q.id.clone(), rating))
            .collect();
        self.handle
            .calibrate(
                self.hr.clone(),
                cycle.id.clone(),
                review.id.clone(),
                CalibrationUpdate { ratings },
                Client::system(),
            )
            .await?;
        Ok(())
    }

    /// The director shares member `n`'s manager review.
    async fn share(&self, cycle: &Cycle, n: usize) -> anyhow::Result<()> {
        let review = self.review(cycle, ReviewKind::Manager, n)?;
        self.handle
            .share_review(self.user("director"), review.id.clone(), Client::system())
            .await?;
        Ok(())
    }

    /// Signs member `n`'s manager review as the member and/or the director.
    async fn sign(
        &self,
        cycle: &Cycle,
        n: usize,
        member: bool,
        director: bool,
    ) -> anyhow::Result<()> {
        let review = self.review(cycle, ReviewKind::Manager, n)?;
        let signers = [
            (member, review.reviewee_id.clone()),
            (director, review.reviewer_id.clone()),
        ];
        for (signs, who) in signers {
            if signs {
                let signer = acting(self.handle, &who, false);
                self.handle
                    .sign_review(signer, review.id.clone(), Client::system())
                    .await?;
            }
        }
        Ok(())
    }

    /// Last year's cycle: calibrated, shared, signed by both, closed.
    async fn closed(&self, cycle: &Cycle) -> anyhow::Result<()> {
        self.write_all(cycle).await?;
        self.advance(cycle, 1).await?;
        self.calibrate(cycle, 2, 4).await?;
        self.calibrate(cycle, 3, 3).await?;
        for n in 1..=MEMBERS {
            self.share(cycle, n).await?;
        }
        self.advance(cycle, 1).await?;
        for n in 1..=MEMBERS {
            self.sign(cycle, n, true, true).await?;
        }
        self.handle
            .close_cycle(self.hr.clone(), cycle.id.clone(), Client::system())
            .await?;
        Ok(())
    }

    /// The mid-year cycle in sign-off: every review shared; one signed by both, one by
    /// the member only, one by the director only, one not yet. Its named feedback
    /// is closed, so `marketing1@` reads who said what.
    async fn sign_off(&self, cycle: &Cycle) -> anyhow::Result<()> {
        self.named_feedback(cycle).await?;
        self.write_all(cycle).await?;
        self.advance(cycle, 1).await?;
        for n in 1..=MEMBERS {
            self.share(cycle, n).await?;
        }
        self.advance(cycle, 1).await?;
        self.sign(cycle, 1, true, true).await?;
        self.sign(cycle, 2, true, false).await?;
        self.sign(cycle, 3, false, true).await?;
        Ok(())
    }

    /// The Q3 check-in in sharing: one rating calibrated, two reviews shared, one
    /// submitted and waiting, one manager review still a draft.
    async fn sharing(&self, cycle: &Cycle) -> anyhow::Result<()> {
        for n in 1..=MEMBERS {
            self.write(cycle, ReviewKind::SelfReview, n, 4, true)
                .await?;
        }
        self.advance(cycle, 1).await?;
        for n in 1..=MEMBERS {
            let submit = n < MEMBERS;
            self.write(cycle, ReviewKind::Manager, n, 4, submit).await?;
        }
        self.advance(cycle, 1).await?;
        self.calibrate(cycle, 1, 5).await?;
        for n in 1..=2 {
            self.share(cycle, n).await?;
        }
        Ok(())
    }

    /// The winter check-in, just started: one self review submitted, two drafts, the
    /// rest (the director's too) not started; the director drafts one review early.
    async fn self_review(&self, cycle: &Cycle) -> anyhow::Result<()> {
        self.write(cycle, ReviewKind::SelfReview, 1, 4, true)
            .await?;
        self.write(cycle, ReviewKind::SelfReview, 2, 3, false)
            .await?;
        self.write(cycle, ReviewKind::SelfReview, 3, 5, false)
            .await?;
        self.write(cycle, ReviewKind::Manager, 1, 4, false).await?;
        Ok(())
    }

    /// Named 360 feedback about `marketing1@` and `marketing4@`: nominations approved,
    /// declined and still waiting for the director; two answers submitted; closed by
    /// HR, which releases the results.
    async fn named_feedback(&self, cycle: &Cycle) -> anyhow::Result<()> {
        let handle = self.handle;
        handle
            .set_feedback_settings(
                self.hr.clone(),
                cycle.id.clone(),
                FeedbackSettingsUpdate {
                    enabled: true,
                    nominated_by: Nominator::Reviewee,
                    min: 2,
                    max: 4,
                    anonymous: false,
                    questions: None,
                },
                Client::system(),
            )
            .await?;
        let nominate = |subject: &str, reviewers: &[&str]| {
            let new = NewNominations {
                subject_id: id_of(self.ids, subject),
                reviewer_ids: reviewers.iter().map(|r| id_of(self.ids, r)).collect(),
            };
            handle.nominate(self.user(subject), cycle.id.clone(), new, Client::system())
        };
        let director = self.user("director");
        let asked = nominate("marketing1", &["marketing2", "marketing3", "marketing4"]).await?;
        for nomination in &asked {
            if nomination.reviewer_id == id_of(self.ids, "marketing4") {
                handle
                    .decide_nomination(
                        director.clone(),
                        nomination.id.clone(),
                        false,
                        Client::system(),
                    )
                    .await?;
            } else {
                handle
                    .seed_approve_nomination(director.clone(), nomination.id.clone())
                    .await?;
            }
        }
        nominate("marketing4", &["marketing1", "marketing2"]).await?;

        let subject = id_of(self.ids, "marketing1");
        let words = [
            (
                "marketing2",
                "Nia turns a vague brief into a plan everyone can follow.",
                5,
            ),
            (
                "marketing3",
                "Nia could share drafts earlier; the results are great.",
                4,
            ),
        ];
        for (reviewer, text, rating) in words {
            let reviewer = self.user(reviewer);
            feedback::write(handle, &reviewer, &cycle.id, &subject, text, rating, true).await?;
        }
        handle
            .close_feedback(self.hr.clone(), cycle.id.clone(), Client::system())
            .await?;
        Ok(())
    }

    /// The team's objectives: the director's team objective under the company's growth
    /// objective, personal ones aligned to it and weighted into the team's cycles, and
    /// a short conversation in comments.
    async fn objectives(
        &self,
        growth: &str,
        closed: &Cycle,
        sign_off: &Cycle,
        self_review: &Cycle,
    ) -> anyhow::Result<()> {
        let handle = self.handle;
        let create = |local: &str, new: NewObjective| {
            handle.create_objective(self.user(local), new, Client::system())
        };
        let objective = |title: &str, level, parent: Option<&str>, status, krs| NewObjective {
            title: title.to_owned(),
            description: String::new(),
            parent_id: parent.map(str::to_owned),
            due_at: Some("2026-12-31T17:00:00Z".to_owned()),
            level: Some(level),
            owner_id: None,
            status: Some(status),
            weight: None,
            key_results: krs,
        };
        let team = create(
            "director",
            NewObjective {
                description: "More of the right people hear of us, and ask for a demo.".to_owned(),
                ..objective(
                    "Fill the sales pipeline",
                    ObjectiveLevel::Team,
                    Some(growth),
                    ObjectiveStatus::OnTrack,
                    vec![
                        measured(
                            "Grow qualified leads from 300 to 500 a month",
                            300.0,
                            410.0,
                            500.0,
                        ),
                        percent("Spring campaign assets ready", 70),
                    ],
                )
            },
        )
        .await?;
        let webinars = create(
            "marketing1",
            objective(
                "Run the customer webinar series",
                ObjectiveLevel::Person,
                Some(&team.id),
                ObjectiveStatus::OnTrack,
                vec![
                    measured("Hold 6 webinars", 0.0, 4.0, 6.0),
                    percent("Recordings published", 50),
                ],
            ),
        )
        .await?;
        let brand = create(
            "marketing2",
            objective(
                "Refresh the brand guidelines",
                ObjectiveLevel::Person,
                Some(&team.id),
                ObjectiveStatus::AtRisk,
                vec![percent("Guidelines approved by the leadership team", 30)],
            ),
        )
        .await?;
        let analytics = create(
            "marketing3",
            objective(
                "Learn marketing analytics",
                ObjectiveLevel::Person,
                None,
                ObjectiveStatus::Done,
                vec![measured("Finish 4 course modules", 0.0, 4.0, 4.0)],
            ),
        )
        .await?;

        // Weighted into the cycles they are reviewed in, by their owners.
        let links = [
            ("marketing1", &webinars.id, sign_off, 60),
            ("marketing1", &webinars.id, self_review, 50),
            ("marketing2", &brand.id, sign_off, 40),
            ("marketing3", &analytics.id, closed, 100),
        ];
        for (owner, objective, cycle, weight) in links {
            handle
                .seed_objective_cycle_link(
                    self.user(owner),
                    objective.clone(),
                    cycle.id.clone(),
                    CycleLinkUpdate {
                        weight: Some(weight),
                    },
                )
                .await?;
        }

        let comments = [
            (
                "director",
                &webinars.id,
                "Four done already: let us pick the last two topics together.",
            ),
            (
                "marketing1",
                &webinars.id,
                "Happy to. I will bring the attendee survey.",
            ),
            (
                "hr",
                &team.id,
                "Could the pipeline numbers go into the next leadership update?",
            ),
        ];
        for (author, objective, body) in comments {
            let author = if author == "hr" {
                self.hr.clone()
            } else {
                self.user(author)
            };
            handle
                .add_comment(
                    author,
                    Commented::Objective(objective.clone()),
                    NewComment {
                        body: body.to_owned(),
                    },
                    Client::system(),
                )
                .await?;
        }
        Ok(())
    }
}

//! Demo data for `kaizen serve --demo`: two companies with a reporting tree, a main
//! review cycle whose reviews stand in every state, a history of other cycles in every
//! phase (see [`history`]), 360 feedback and objectives.

mod feedback;
mod history;

pub use history::{CLOSED_CYCLE, SELF_REVIEW_CYCLE, SHARING_CYCLE, SIGN_OFF_CYCLE};

use kaizen_actors::company::NewUser;
use kaizen_actors::company::comment::{Commented, NewComment};
use kaizen_actors::company::objective::{
    NewKeyResult, NewObjective, ObjectiveLevel, ObjectiveStatus,
};
use kaizen_actors::model::{
    Answer, Answers, Client, NewCycle, NewQuestion, Principal, QuestionKind, ReviewKind,
    ReviewStatus, Roles, Stage, UserRole,
};
use kaizen_actors::{CompanyHandle, Registry, directory};
use tokio::task::JoinSet;

use crate::password::{Hasher, MAX_PASSWORD_BYTES};

/// How big the demo is: the load generator needs more people than a person trying
/// Kaizen out.
#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    /// Companies: `acme`, `globex`, then `demo3`, `demo4`, …
    pub companies: usize,
    /// Employees reporting to each company's `manager@` (`employee1@` … `employeeN@`).
    pub employees: usize,
}

impl Default for DemoSize {
    fn default() -> Self {
        DemoSize {
            companies: 2,
            employees: 20,
        }
    }
}

/// How many of the first demo companies (`acme`, `globex`) get the history of cycles.
const NAMED_WITH_HISTORY: usize = 2;

/// The demo companies: slug and display name.
fn companies(count: usize) -> Vec<(String, String)> {
    let named = [("acme", "Acme Corporation"), ("globex", "Globex")];
    (0..count.max(1))
        .map(|n| match named.get(n) {
            Some((slug, name)) => ((*slug).to_owned(), (*name).to_owned()),
            None => (format!("demo{}", n + 1), format!("Demo Company {}", n + 1)),
        })
        .collect()
}

/// The name of the demo's main cycle: the newest, in its manager review phase.
pub const DEMO_CYCLE: &str = "2026 Annual Review";

/// The shortest password accepted anywhere (the company policy can only raise it).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Refuses passwords that are too short or absurdly long.
pub fn check_password(password: &str) -> anyhow::Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        anyhow::bail!("a password needs at least {MIN_PASSWORD_CHARS} characters");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        anyhow::bail!("a password may have at most {MAX_PASSWORD_BYTES} bytes");
    }
    Ok(())
}

/// One demo person: local part of the email, name, role, the manager's local part, and
/// the state their self review is put in.
struct Person {
    local: String,
    name: String,
    role: UserRole,
    manager: Option<&'static str>,
    self_review: ReviewStatus,
}

fn people(employees: usize) -> Vec<Person> {
    let person = |local: &str, name: &str, manager, self_review| Person {
        local: local.to_owned(),
        name: name.to_owned(),
        role: UserRole::Employee,
        manager,
        self_review,
    };
    let mut people = vec![
        person("ceo", "Casey Chief", None, ReviewStatus::NotStarted),
        Person {
            role: UserRole::HrAdmin,
            ..person("hr", "Harper Ross", Some("ceo"), ReviewStatus::NotStarted)
        },
        Person {
            role: UserRole::HrAssistant,
            ..person(
                "assistant",
                "Avery Quinn",
                Some("ceo"),
                ReviewStatus::NotStarted,
            )
        },
        person("manager", "Morgan Lee", Some("ceo"), ReviewStatus::Draft),
        person("lead", "Logan Reyes", Some("ceo"), ReviewStatus::Submitted),
    ];
    let firsts = [
        "Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun",
    ];
    for n in 1..=employees {
        let name = format!("{} Employee{n}", firsts[(n - 1) % firsts.len()]);
        people.push(person(
            &format!("employee{n}"),
            &name,
            Some("manager"),
            ReviewStatus::NotStarted,
        ));
    }
    let states = [
        ReviewStatus::Draft,
        ReviewStatus::Submitted,
        ReviewStatus::Shared,
        ReviewStatus::Signed,
    ];
    for (n, state) in states.into_iter().enumerate() {
        let n = n + 1;
        people.push(person(
            &format!("report{n}"),
            &format!("Robin Report{n}"),
            Some("lead"),
            state,
        ));
    }
    people
}

/// Seeds the demo when the database has no company yet. Answers whether it seeded.
/// Every demo user gets `password` when given, else a random one printed once.
pub async fn seed_if_empty(
    registry: &Registry,
    hasher: &Hasher,
    password: Option<String>,
    size: DemoSize,
) -> anyhow::Result<bool> {
    if !directory::list(registry.db()).await?.is_empty() {
        return Ok(false);
    }
    if let Some(password) = &password {
        check_password(password)?;
    }
    let people = people(size.employees);
    let companies = companies(size.companies);
    let slugs: Vec<&str> = companies.iter().map(|c| c.0.as_str()).collect();
    println!("Seeding demo data: companies {}.", slugs.join(", "));
    for (n, (slug, name)) in companies.iter().enumerate() {
        let slug = slug.as_str();
        let company = directory::create_company(registry.db(), slug, name).await?;
        let handle = registry
            .by_id(&company.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the demo company {slug} vanished"))?;
        // The history of cycles is for people trying Kaizen out: the companies a load
        // test adds beyond the two named ones skip it and seed faster.
        let history = n < NAMED_WITH_HISTORY;
        seed_company(&handle, slug, &people, history, hasher, password.as_deref()).await?;
    }
    if password.is_some() {
        println!("Every demo user has the password given in KAIZEN_DEMO_PASSWORD.");
    }
    println!(
        "Try company acme as hr@acme.example (HR admin), manager@acme.example (manager) \
         or employee1@acme.example … employee{}@acme.example.",
        size.employees
    );
    Ok(true)
}

/// Seeds one company: `people`, the main cycle, objectives and feedback, and with
/// `history` the marketing team and its cycles.
async fn seed_company(
    handle: &CompanyHandle,
    slug: &str,
    people: &[Person],
    history: bool,
    hasher: &Hasher,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let team = if history { history::team() } else { Vec::new() };
    let mut credentials = credentials(hasher, password, people.len() + team.len())
        .await?
        .into_iter();

    // Managers come before their reports in `people`, so each manager's id is known.
    let shared_password = password.is_some();
    if !shared_password {
        println!("Demo users of {slug} and their passwords (shown once):");
    }
    let mut ids = std::collections::HashMap::new();
    add_people(
        handle,
        slug,
        people,
        &mut credentials,
        &mut ids,
        !shared_password,
    )
    .await?;
    let hr_id = people
        .iter()
        .find(|p| p.role == UserRole::HrAdmin)
        .and_then(|p| ids.get(&p.local))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the demo has no HR admin"))?;

    // The open cycle, created by HR as in real use.
    let hr = Principal {
        company_id: handle.company_id().to_owned(),
        user_id: hr_id,
        session_id: String::new(),
        elevated_until: 0,
        stage: Stage::Full,
        roles: Roles {
            hr_admin: true,
            ..Roles::default()
        },
    };
    let cycle = handle
        .create_cycle(
            hr.clone(),
            NewCycle {
                name: DEMO_CYCLE.to_owned(),
                questions: vec![
                    question(QuestionKind::Text, "What went well this year?"),
                    question(
                        QuestionKind::Text,
                        "What would you like to do better or learn next?",
                    ),
                    question(
                        QuestionKind::Rating,
                        "Overall, how did the year go? (1 = poorly, 5 = very well)",
                    ),
                ],
                due_at: Some("2026-12-18T17:00:00Z".to_owned()),
                ..NewCycle::default()
            },
            Client::system(),
        )
        .await?;

    // The cycle is under way: managers write their reviews while the last self reviews
    // come in (self reviews stay writable in later phases).
    handle
        .advance_cycle(hr.clone(), cycle.id.clone(), None, Client::system())
        .await?;

    // Put self reviews in the states the demo shows.
    for person in people
        .iter()
        .filter(|p| p.self_review != ReviewStatus::NotStarted)
    {
        let user_id = ids[&person.local].clone();
        let principal = Principal {
            company_id: handle.company_id().to_owned(),
            user_id: user_id.clone(),
            session_id: String::new(),
            elevated_until: 0,
            stage: Stage::Full,
            roles: Roles::default(),
        };
        let reviews = handle.list_reviews(principal).await?;
        let Some(own) = reviews
            .iter()
            .find(|r| r.kind == ReviewKind::SelfReview && r.reviewee_id == user_id)
        else {
            continue;
        };
        let mut answers = Answers::new();
        for q in &cycle.questions {
            let answer = match q.kind {
                QuestionKind::Text => Answer::Text(format!("Demo answer from {}.", person.name)),
                QuestionKind::Rating => Answer::Rating(4),
                // The demo's main cycle has no objectives question.
                QuestionKind::Objectives => continue,
            };
            answers.insert(q.id.clone(), answer);
        }
        handle
            .seed_review(own.id.clone(), person.self_review, answers)
            .await?;
    }
    let growth = seed_objectives(handle, &ids, &hr.user_id).await?;

    // 360 feedback in the open cycle.
    feedback::seed(handle, &hr, &cycle.id, &ids).await?;

    // The marketing team joins only now, so the main cycle (created for everyone active)
    // does not include it, and runs the other cycles.
    if history {
        add_people(
            handle,
            slug,
            &team,
            &mut credentials,
            &mut ids,
            !shared_password,
        )
        .await?;
        history::seed(handle, &hr, slug, &ids, &growth).await?;
    }
    Ok(())
}

/// Passwords and their hashes for `count` people: the shared demo password, or a
/// random one each.
async fn credentials(
    hasher: &Hasher,
    password: Option<&str>,
    count: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    // One shared demo password is hashed once per company: the hashes are then equal,
    // which tells nothing the demo does not announce, and a large demo seeds in seconds.
    // Random passwords are hashed one by one, queued on the bcrypt workers.
    let mut credentials = vec![(String::new(), String::new()); count];
    if let Some(password) = password {
        let hash = hasher.hash(password).await?;
        for slot in &mut credentials {
            *slot = (password.to_owned(), hash.clone());
        }
    } else {
        let mut hashing = JoinSet::new();
        for index in 0..count {
            let hasher = hasher.clone();
            let password = crate::token::new_token()[..16].to_owned();
            hashing.spawn(async move {
                let hash = hasher.hash(&password).await;
                (index, password, hash)
            });
        }
        while let Some(done) = hashing.join_next().await {
            let (index, password, hash) = done?;
            credentials[index] = (password, hash?);
        }
    }
    Ok(credentials)
}

/// Adds `people` with the next of `credentials`, recording each id in `ids` under the
/// local part of their email; prints random passwords when `print`. A manager must come
/// before their reports, or already be in `ids`.
async fn add_people(
    handle: &CompanyHandle,
    slug: &str,
    people: &[Person],
    credentials: &mut impl Iterator<Item = (String, String)>,
    ids: &mut std::collections::HashMap<String, String>,
    print: bool,
) -> anyhow::Result<()> {
    for person in people {
        let (password, hash) = credentials
            .next()
            .ok_or_else(|| anyhow::anyhow!("a demo user has no password"))?;
        let email = format!("{}@{slug}.example", person.local);
        let new = NewUser {
            email: email.clone(),
            name: person.name.clone(),
            role: person.role,
            manager_id: person.manager.and_then(|m| ids.get(m).cloned()),
            password_hash: Some(hash),
        };
        let id = handle.add_user(new).await?;
        ids.insert(person.local.clone(), id);
        if print {
            println!("  {email:<28} {password}");
        }
    }
    Ok(())
}

/// A principal for seeding on someone's behalf, as their own session would carry.
fn acting(handle: &CompanyHandle, user_id: &str, hr_admin: bool) -> Principal {
    Principal {
        company_id: handle.company_id().to_owned(),
        user_id: user_id.to_owned(),
        session_id: String::new(),
        elevated_until: 0,
        stage: Stage::Full,
        roles: Roles {
            hr_admin,
            ..Roles::default()
        },
    }
}

/// A key result at a percentage.
fn percent(title: &str, progress: i64) -> NewKeyResult {
    NewKeyResult {
        title: title.to_owned(),
        progress: Some(progress),
        start: None,
        current: None,
        target: None,
    }
}

/// A measured key result.
fn measured(title: &str, start: f64, current: f64, target: f64) -> NewKeyResult {
    NewKeyResult {
        title: title.to_owned(),
        progress: None,
        start: Some(start),
        current: Some(current),
        target: Some(target),
    }
}

/// The demo's objective tree: two company objectives of HR, team objectives of
/// `manager@` and `lead@` aligned to them, and personal objectives of the first
/// employees aligned to their team's, created by each owner as in real use. Answers the
/// id of the company objective "Grow a healthy business".
async fn seed_objectives(
    handle: &CompanyHandle,
    ids: &std::collections::HashMap<String, String>,
    hr_id: &str,
) -> anyhow::Result<String> {
    let create = |by: &str, hr_admin: bool, new: NewObjective| {
        handle.create_objective(acting(handle, by, hr_admin), new, Client::system())
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
    let customers = create(
        hr_id,
        true,
        NewObjective {
            description: "Customers recommend us because we solve their problem quickly."
                .to_owned(),
            ..objective(
                "Delight our customers",
                ObjectiveLevel::Company,
                None,
                ObjectiveStatus::OnTrack,
                vec![
                    measured(
                        "Raise customer satisfaction from 72 to 85",
                        72.0,
                        76.0,
                        85.0,
                    ),
                    percent("Answer every support request within a day", 60),
                ],
            )
        },
    )
    .await?;
    let growth = create(
        hr_id,
        true,
        objective(
            "Grow a healthy business",
            ObjectiveLevel::Company,
            None,
            ObjectiveStatus::AtRisk,
            vec![measured(
                "Reach 1,200 paying customers",
                800.0,
                950.0,
                1200.0,
            )],
        ),
    )
    .await?;
    let (Some(manager), Some(lead)) = (ids.get("manager"), ids.get("lead")) else {
        return Ok(growth.id);
    };
    let onboarding = create(
        manager,
        false,
        objective(
            "Ship the self-service onboarding",
            ObjectiveLevel::Team,
            Some(&customers.id),
            ObjectiveStatus::OnTrack,
            vec![
                percent("Onboarding flow live for all new customers", 40),
                measured("Cut time to first value from 14 to 3 days", 14.0, 9.0, 3.0),
            ],
        ),
    )
    .await?;
    create(
        lead,
        false,
        objective(
            "Keep the platform fast and reliable",
            ObjectiveLevel::Team,
            Some(&growth.id),
            ObjectiveStatus::OnTrack,
            vec![percent("99.9% monthly availability", 80)],
        ),
    )
    .await?;

    let personal = [
        (
            "employee1",
            "Design the new onboarding checklist",
            true,
            ObjectiveStatus::OnTrack,
            vec![
                measured("Interview 10 new customers", 0.0, 6.0, 10.0),
                percent("Checklist tried out by three teams", 33),
            ],
        ),
        (
            "employee2",
            "Write the onboarding help articles",
            true,
            ObjectiveStatus::AtRisk,
            vec![measured("Publish 12 articles", 0.0, 5.0, 12.0)],
        ),
        (
            "employee3",
            "Learn the billing system",
            false,
            ObjectiveStatus::Done,
            vec![percent("Finish the billing course", 100)],
        ),
    ];
    for (local, title, aligned, status, krs) in personal {
        let Some(owner) = ids.get(local) else {
            continue;
        };
        let parent = aligned.then_some(onboarding.id.as_str());
        let created = create(
            owner,
            false,
            objective(title, ObjectiveLevel::Person, parent, status, krs),
        )
        .await?;
        if local == "employee1" {
            handle
                .add_comment(
                    acting(handle, manager, false),
                    Commented::Objective(created.id),
                    NewComment {
                        body: "Good start. Let us go through the interview notes on Friday."
                            .to_owned(),
                    },
                    Client::system(),
                )
                .await?;
        }
    }
    Ok(growth.id)
}

fn question(kind: QuestionKind, prompt: &str) -> NewQuestion {
    NewQuestion {
        kind,
        prompt: prompt.to_owned(),
    }
}

//! The Grants tab's forms driven by keys: a new grant from search to confirm modal (by records staff
//! and by a patient), a new expiry, a revocation, and bad input answered in one sentence with nothing
//! sent.

use crossterm::event::KeyCode;

use super::SIZES;
use super::grants::{
    alice_records, answer, at, candidate, day, emma, grant_id, grants, on_grants, search, williams,
    work,
};
use super::records::{alice, dr_smith, record_id};
use crate::services::ServiceError;
use crate::services::grants::{
    AccessLevel, Grant, GrantStatus, GrantedRecord, NewGrant, Wanted, end_of_day,
};
use crate::services::records::RecordType;
use crate::services::users::{Role, UserSummary};
use crate::tui::msg::{GrantResult, GrantWork};

#[test]
fn a_new_grant_is_searched_chosen_and_confirmed_before_it_is_sent() {
    for size in SIZES {
        let mut c = on_grants(emma(), size, grants());
        c.key(KeyCode::Char('n'));
        assert!(c.state.typing(), "the patient field has the focus");
        search(
            &mut c,
            "al",
            Wanted::Patient,
            vec![candidate(alice(), Role::Patient, true)],
        );
        c.key(KeyCode::Enter);
        assert!(
            c.effects.is_empty(),
            "no record list until chosen records are asked for"
        );
        search(
            &mut c,
            "sm",
            Wanted::Grantee,
            vec![candidate(dr_smith(), Role::Physician, true)],
        );
        c.snapshot("grant_new_search");
        c.key(KeyCode::Enter);
        c.key(KeyCode::Char(' ')); // chosen records
        let Some(GrantWork::PatientRecords(patient)) = work(&c) else {
            panic!("{:?}", c.effects)
        };
        assert_eq!(*patient, alice().id);
        answer(&mut c, GrantResult::Records(Ok(alice_records())));
        c.key(KeyCode::Tab);
        c.key(KeyCode::Down);
        c.key(KeyCode::Char(' ')); // the consultation
        c.key(KeyCode::Tab);
        c.key(KeyCode::Right); // read and write
        c.key(KeyCode::Tab);
        for _ in 0..10 {
            c.key(KeyCode::Backspace);
        }
        c.type_text("6m");
        c.snapshot("grant_new_form");
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty(), "nothing is sent before Yes");
        c.snapshot("grant_new_confirm");
        let screen = c.screen();
        assert!(
            screen.contains("John Smith (Physician) read and write access to 1 of"),
            "{screen}"
        );
        assert!(screen.contains("Consultation 2024-01-15"), "{screen}");
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty(), "Enter on the default (No) goes back");
        assert!(!c.screen().contains("Create this grant?"));
        c.key(KeyCode::Enter);
        c.key(KeyCode::Tab);
        c.key(KeyCode::Enter);
        let Some(GrantWork::Create(new)) = work(&c) else {
            panic!("{:?}", c.effects)
        };
        assert_eq!(
            new,
            &NewGrant {
                patient: alice().id,
                grantee: dr_smith().id,
                records: Some(vec![record_id(1)]),
                level: AccessLevel::ReadWrite,
                expires_at: end_of_day(day(2027, 5, 27)),
            }
        );
        let mut created = grants()[1].clone();
        created.id = grant_id(7);
        created.records = Some(vec![GrantedRecord::new(
            record_id(1),
            Some(RecordType::Consultation),
            Some(day(2024, 1, 15)),
        )]);
        answer(&mut c, GrantResult::Changed(Ok(Box::new(created))));
        let Some(GrantWork::List { .. }) = work(&c) else {
            panic!("the list is read again: {:?}", c.effects)
        };
        assert!(
            c.screen()
                .contains("Granted: John Smith now has read and write access to 1 of"),
            "{}",
            c.screen()
        );
    }
}

#[test]
fn bad_input_is_one_sentence_and_sends_nothing() {
    let mut c = on_grants(emma(), (120, 40), grants());
    c.key(KeyCode::Char('n'));
    c.key(KeyCode::Enter);
    assert!(c.screen().contains("Type part of the patient's name"));
    // Unknown user: the search finds no one.
    search(&mut c, "zz", Wanted::Patient, Vec::new());
    c.key(KeyCode::Enter);
    assert!(
        c.screen()
            .contains("No one matches \"zz\" among the people you may choose."),
        "{}",
        c.screen()
    );
    assert!(c.effects.is_empty());
    for _ in 0..2 {
        c.key(KeyCode::Backspace);
    }
    search(
        &mut c,
        "al",
        Wanted::Patient,
        vec![candidate(alice(), Role::Patient, true)],
    );
    c.key(KeyCode::Enter);
    // A patient as grantee.
    search(
        &mut c,
        "al",
        Wanted::Grantee,
        vec![candidate(alice(), Role::Patient, false)],
    );
    c.key(KeyCode::Enter);
    c.snapshot("grant_patient_as_grantee");
    assert!(
        c.screen()
            .contains("Alice Anderson is not a physician or nurse (Patient); grants go to physicians and nurses only."),
        "{}",
        c.screen()
    );
    assert!(c.effects.is_empty());
    for _ in 0..2 {
        c.key(KeyCode::Backspace);
    }
    search(
        &mut c,
        "sm",
        Wanted::Grantee,
        vec![candidate(dr_smith(), Role::Physician, true)],
    );
    c.key(KeyCode::Enter);
    // A past expiry.
    c.key(KeyCode::Tab);
    c.key(KeyCode::Tab);
    for _ in 0..10 {
        c.key(KeyCode::Backspace);
    }
    c.type_text("2026-11-26");
    c.key(KeyCode::Enter);
    assert!(c.effects.is_empty());
    assert!(
        c.screen()
            .contains("The expiry 2026-11-26 is in the past; choose today or a later day."),
        "{}",
        c.screen()
    );
    for _ in 0..10 {
        c.key(KeyCode::Backspace);
    }
    c.type_text("3y");
    c.key(KeyCode::Enter);
    assert!(
        c.screen().contains("more than 730 days ahead"),
        "{}",
        c.screen()
    );
    // A duplicate: the service names the grant already there, and the form stays as it was.
    for _ in 0..2 {
        c.key(KeyCode::Backspace);
    }
    c.type_text("1y");
    c.key(KeyCode::Enter);
    c.key(KeyCode::Tab);
    c.key(KeyCode::Enter);
    // The sentence as the service words it (services::grants::create), built from the grant it names.
    let existing = grants()[1].clone();
    let duplicate = format!(
        "John Smith already holds an active grant on these records of Alice Anderson, {}; \
         change its expiry or revoke it instead.",
        existing.describe()
    );
    answer(
        &mut c,
        GrantResult::Changed(Err(ServiceError::Invalid(duplicate.clone()))),
    );
    let screen = c.screen();
    assert!(
        screen.contains("Error: John Smith already holds an active grant on these records of"),
        "{screen}"
    );
    assert!(screen.contains("grant 3f2a9c11 (John Smith"), "{screen}");
    assert!(
        screen.contains("or revoke it instead."),
        "the whole sentence shows: {screen}"
    );
    assert!(c.screen().contains("New access grant"), "the form stays");
}

#[test]
fn a_revocation_needs_a_reason_and_a_yes() {
    for size in SIZES {
        let mut c = on_grants(emma(), size, grants());
        c.key(KeyCode::Down);
        c.key(KeyCode::Char('x'));
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty());
        assert!(
            c.screen()
                .contains("Give the reason for revoking in at least 5 characters.")
        );
        c.type_text("Patient asked to stop sharing");
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty(), "the modal comes first");
        c.snapshot("grant_revoke_confirm");
        assert!(c.screen().contains("ends immediately"));
        c.key(KeyCode::Right);
        c.key(KeyCode::Enter);
        let Some(GrantWork::Revoke { grant, reason }) = work(&c) else {
            panic!("{:?}", c.effects)
        };
        assert_eq!(
            (*grant, reason.as_str()),
            (grant_id(1), "Patient asked to stop sharing")
        );
        let mut revoked = grants()[1].clone();
        revoked.status = GrantStatus::Revoked;
        answer(&mut c, GrantResult::Changed(Ok(Box::new(revoked))));
        c.snapshot("grant_revoked");
        assert!(
            c.screen()
                .contains("Revoked: John Smith no longer has access through grant 3f2a9c11.")
        );
    }
}

#[test]
fn an_expiry_change_states_from_and_to() {
    let mut c = on_grants(emma(), (120, 40), grants());
    c.key(KeyCode::Char('e'));
    assert!(
        c.screen()
            .contains("Emergency access keeps its hour; revoke it to end it sooner.")
    );
    c.key(KeyCode::Down);
    c.key(KeyCode::Char('e'));
    for _ in 0..10 {
        c.key(KeyCode::Backspace);
    }
    c.type_text("2028-01-31");
    c.key(KeyCode::Enter);
    c.snapshot("grant_expiry_confirm");
    let screen = c.screen();
    assert!(
        screen.contains("from 2027-11-27 06:00 UTC to 2028-01-31 23:59 UTC."),
        "{screen}"
    );
    assert!(screen.contains("This extends it by 65 days."), "{screen}");
    c.key(KeyCode::Tab);
    c.key(KeyCode::Enter);
    let Some(GrantWork::ChangeExpiry {
        grant,
        expected,
        expires_at,
    }) = work(&c)
    else {
        panic!("{:?}", c.effects)
    };
    assert_eq!(*grant, grant_id(1));
    assert_eq!(*expected, at(2027, 11, 27, 6));
    assert_eq!(*expires_at, end_of_day(day(2028, 1, 31)));
    answer(
        &mut c,
        GrantResult::Changed(Err(ServiceError::Conflict(
            "This grant's expiry was changed to 2027-12-01 23:59 UTC meanwhile, so nothing was changed; check it and try again.".into(),
        ))),
    );
    assert!(
        c.screen()
            .contains("changed to 2027-12-01 23:59 UTC meanwhile")
    );
    // A revoked grant does not change.
    c.key(KeyCode::Esc);
    c.key(KeyCode::Char('G'));
    c.key(KeyCode::Char('x'));
    assert!(
        c.screen()
            .contains("This grant was revoked; it cannot change any more.")
    );
}

#[test]
fn a_patient_grants_on_their_own_records_only() {
    let me = UserSummary {
        id: alice().id,
        email: "patient1@example.com".into(),
        first_name: "Alice".into(),
        last_name: "Anderson".into(),
        role: Role::Patient,
    };
    for size in SIZES {
        let mine: Vec<Grant> = grants()
            .into_iter()
            .filter(|g| g.patient.id == alice().id)
            .collect();
        let mut c = on_grants(me.clone(), size, mine);
        assert!(c.screen().contains("Active grants on your records"));
        c.key(KeyCode::Char('n'));
        assert!(
            c.screen().contains("Patient: you (Alice Anderson)"),
            "{}",
            c.screen()
        );
        // The grantee has the focus: there is no patient to choose.
        search(
            &mut c,
            "wi",
            Wanted::Grantee,
            vec![candidate(williams(), Role::Nurse, true)],
        );
        c.key(KeyCode::Enter);
        c.key(KeyCode::Char(' '));
        let Some(GrantWork::PatientRecords(patient)) = work(&c) else {
            panic!(
                "her own records, once chosen records are asked for: {:?}",
                c.effects
            )
        };
        assert_eq!(*patient, alice().id);
        answer(&mut c, GrantResult::Records(Ok(alice_records())));
        c.snapshot("grant_new_by_patient");
        c.key(KeyCode::Tab);
        c.key(KeyCode::Enter);
        assert!(
            c.screen()
                .contains("Mark at least one record with Space, or grant all of the"),
            "{}",
            c.screen()
        );
        c.key(KeyCode::Char(' '));
        c.key(KeyCode::Enter);
        assert!(c.effects.is_empty(), "the modal comes first");
        c.snapshot("grant_new_by_patient_confirm");
        assert!(
            c.screen()
                .contains("Give Emily Williams (Nurse) read access to 1 of your")
        );
        c.key(KeyCode::Tab);
        c.key(KeyCode::Enter);
        let Some(GrantWork::Create(new)) = work(&c) else {
            panic!("{:?}", c.effects)
        };
        assert_eq!(
            (new.patient, new.grantee, new.records.clone()),
            (alice().id, williams().id, Some(vec![record_id(2)]))
        );
    }
}

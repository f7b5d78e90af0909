//! The effect runner: owns the services, does each piece of database work in its own task, and
//! answers with a message carrying the ticket it was given.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use super::msg::{
    Acted, AdminResult, AdminWork, AuditResult, AuditWork, Effect, GrantResult, GrantWork,
    ListPage, Msg, Outcome, RecordResult, RecordWork, SaveTarget,
};
use super::screens::records::browser::RecordPage;
use crate::services::audit::{self, Client};
use crate::services::grants;
use crate::services::mfa::{self, Enrollment};
use crate::services::records::{self, PAGE_SIZE};
use crate::services::sessions::Session;
use crate::services::{ServiceError, Services, admin, auth, sessions};

#[derive(Clone)]
pub struct Runner {
    svc: Arc<Services>,
    client: Arc<Client>,
    tx: UnboundedSender<Msg>,
}

impl Runner {
    pub fn new(svc: Arc<Services>, client: Client, tx: UnboundedSender<Msg>) -> Runner {
        Runner {
            svc,
            client: Arc::new(client),
            tx,
        }
    }

    /// Starts `effect` in a task. `Exit` is the loop's business and is ignored here.
    pub fn start(&self, effect: Effect) {
        let (svc, client, tx) = (self.svc.clone(), self.client.clone(), self.tx.clone());
        tokio::spawn(async move {
            let (ticket, outcome) = match effect {
                Effect::Exit => return,
                Effect::Login {
                    ticket,
                    email,
                    password,
                } => (
                    ticket,
                    Outcome::Login(auth::login(&svc, &client, &email, &password).await),
                ),
                Effect::SubmitCode {
                    ticket,
                    pending,
                    code,
                } => (
                    ticket,
                    Outcome::Code(auth::submit_code(&svc, &client, &pending, &code).await),
                ),
                Effect::PrepareEnrollment { ticket, account } => (
                    ticket,
                    Outcome::EnrollmentReady(Enrollment::new(&account, "Authenticator app")),
                ),
                Effect::CompleteEnrollment {
                    ticket,
                    pending,
                    enrollment,
                    code,
                } => (
                    ticket,
                    Outcome::Enrolled(
                        auth::complete_enrollment(&svc, &client, &pending, &enrollment, &code)
                            .await,
                    ),
                ),
                Effect::CheckSession { ticket, session } => (
                    ticket,
                    Outcome::SessionState(sessions::state(&svc, &client, &session).await),
                ),
                Effect::Touch { ticket, session } => (
                    ticket,
                    Outcome::Recorded(sessions::touch(&svc, &session).await),
                ),
                Effect::RecordLock { ticket, session } => (
                    ticket,
                    Outcome::Recorded(sessions::lock(&svc, &client, &session).await),
                ),
                Effect::Unlock {
                    ticket,
                    session,
                    password,
                } => (
                    ticket,
                    Outcome::Unlocked(sessions::unlock(&svc, &client, &session, &password).await),
                ),
                Effect::LoadDevices { ticket, session } => {
                    (ticket, Outcome::Devices(mfa::devices(&svc, &session).await))
                }
                Effect::AddDevice {
                    ticket,
                    session,
                    enrollment,
                    code,
                    password,
                    current_code,
                } => (
                    ticket,
                    Outcome::DeviceAdded(
                        mfa::add_device(
                            &svc,
                            &client,
                            &session,
                            &enrollment,
                            &code,
                            &password,
                            current_code.as_deref(),
                        )
                        .await,
                    ),
                ),
                Effect::RenameDevice {
                    ticket,
                    session,
                    device,
                    name,
                } => (
                    ticket,
                    Outcome::DeviceChanged(
                        mfa::rename(&svc, &client, &session, device, &name).await,
                    ),
                ),
                Effect::RemoveDevice {
                    ticket,
                    session,
                    device,
                    password,
                    code,
                } => (
                    ticket,
                    Outcome::DeviceChanged(
                        mfa::remove(&svc, &client, &session, device, &password, &code).await,
                    ),
                ),
                Effect::Records {
                    ticket,
                    session,
                    work,
                } => (
                    ticket,
                    Outcome::Records(Box::new(records_work(&svc, &client, &session, work).await)),
                ),
                Effect::Grants {
                    ticket,
                    session,
                    work,
                } => (
                    ticket,
                    Outcome::Grants(Box::new(grants_work(&svc, &client, &session, work).await)),
                ),
                Effect::Audit {
                    ticket,
                    session,
                    work,
                } => (
                    ticket,
                    Outcome::Audit(Box::new(audit_work(&svc, &client, &session, work).await)),
                ),
                Effect::Admin {
                    ticket,
                    session,
                    work,
                } => (
                    ticket,
                    Outcome::Admin(Box::new(admin_work(&svc, &client, &session, work).await)),
                ),
                Effect::ChangePassword {
                    ticket,
                    session,
                    current,
                    new,
                } => (
                    ticket,
                    Outcome::PasswordChanged(
                        auth::change_password(&svc, &client, &session, &current, &new).await,
                    ),
                ),
                Effect::EndSession {
                    ticket,
                    session,
                    reason,
                } => {
                    if let Err(e) = sessions::end(&svc, &client, &session, reason).await {
                        tracing::warn!(error = %e, "the session could not be ended in the database");
                    }
                    (ticket, Outcome::SessionEnded)
                }
            };
            // The loop may already be gone (the console closed); nothing to do then.
            let _ = tx.send(Msg::Done(ticket, outcome));
        });
    }
}

/// Does one piece of records work through the records services (which write its audit rows).
async fn records_work(
    svc: &Services,
    client: &Client,
    session: &Session,
    work: RecordWork,
) -> RecordResult {
    match work {
        RecordWork::List { filter, after } => RecordResult::Page(
            records::list(svc, client, session, &filter, after, PAGE_SIZE)
                .await
                .map(|page| RecordPage {
                    rows: page.records,
                    next: page.next,
                }),
        ),
        RecordWork::View(record) => {
            RecordResult::Detail(records::view(svc, client, session, record).await)
        }
        RecordWork::Save(request) => RecordResult::Saved(match &request.target {
            SaveTarget::New { patient } => {
                records::create(
                    svc,
                    client,
                    session,
                    *patient,
                    request.change_id,
                    &request.draft,
                )
                .await
            }
            SaveTarget::Existing {
                record,
                base_version,
                reason,
            } => {
                records::update(
                    svc,
                    client,
                    session,
                    *record,
                    request.change_id,
                    *base_version,
                    &request.draft,
                    reason,
                )
                .await
            }
        }),
        RecordWork::History(record) => {
            RecordResult::History(records::history(svc, client, session, record).await)
        }
        RecordWork::Version { record, version } => {
            RecordResult::Version(records::version(svc, client, session, record, version).await)
        }
        RecordWork::Compare { record, a, b } => {
            let pair = records::compare(svc, client, session, record, a, b).await;
            RecordResult::Compared(match pair {
                // A long description takes a moment to compare: off the async workers.
                Ok((old, new)) => tokio::task::spawn_blocking(move || {
                    let fields = records::diff::compare(&old, &new);
                    (old, new, fields)
                })
                .await
                .map_err(|_| {
                    ServiceError::Invalid("The two versions could not be compared.".into())
                }),
                Err(e) => Err(e),
            })
        }
        RecordWork::WritablePatients => {
            RecordResult::Patients(records::writable_patients(svc, session).await)
        }
        RecordWork::FindPatients(query) => {
            RecordResult::Patients(records::find_patients(svc, session, &query).await)
        }
        RecordWork::BreakGlass {
            patient,
            reason,
            password,
        } => RecordResult::Emergency(
            records::break_glass(svc, client, session, patient, &reason, &password).await,
        ),
    }
}

/// Does one piece of access-grant work through the grants services (which write its audit rows).
async fn grants_work(
    svc: &Services,
    client: &Client,
    session: &Session,
    work: GrantWork,
) -> GrantResult {
    match work {
        GrantWork::List { filter, after } => GrantResult::Page(
            grants::list(svc, client, session, &filter, after, grants::PAGE_SIZE).await,
        ),
        GrantWork::FindPeople { wanted, query } => {
            GrantResult::People(grants::find_people(svc, session, wanted, &query).await)
        }
        GrantWork::PatientRecords(patient) => {
            GrantResult::Records(grants::patient_records(svc, client, session, patient).await)
        }
        GrantWork::Create(new) => GrantResult::Changed(
            grants::create(svc, client, session, &new)
                .await
                .map(Box::new),
        ),
        GrantWork::ChangeExpiry {
            grant,
            expected,
            expires_at,
        } => GrantResult::Changed(
            grants::change_expiry(svc, client, session, grant, expected, expires_at)
                .await
                .map(Box::new),
        ),
        GrantWork::Revoke { grant, reason } => GrantResult::Changed(
            grants::revoke(svc, client, session, grant, &reason)
                .await
                .map(Box::new),
        ),
    }
}

/// Does one piece of audit-trail work through the audit services (which write AUDIT_VIEW,
/// AUDIT_REVIEWED and AUDIT_EXPORT themselves).
async fn audit_work(
    svc: &Services,
    client: &Client,
    session: &Session,
    work: AuditWork,
) -> AuditResult {
    use audit::query;
    match work {
        AuditWork::List { filter, after } => AuditResult::Page(
            query::list(svc, client, session, &filter, after, query::PAGE_SIZE).await,
        ),
        AuditWork::Newer { filter, after_seq } => {
            AuditResult::Newer(query::newer(svc, client, session, &filter, after_seq).await)
        }
        AuditWork::Review { seq } => AuditResult::Reviewed {
            seq,
            result: query::mark_reviewed(svc, client, session, seq).await,
        },
        AuditWork::Export {
            filter,
            format,
            path,
        } => {
            // The exports folder is hsc's own: made on first use, for its owner only.
            if let Some(dir) = path.parent()
                && let Err(e) = crate::crypto::create_private_dir(dir)
            {
                return AuditResult::Exported(Err(ServiceError::Invalid(format!(
                    "The exports folder {} could not be made ({}); nothing was written.",
                    dir.display(),
                    e.kind()
                ))));
            }
            AuditResult::Exported(
                audit::export::for_session(
                    svc,
                    client,
                    session,
                    &filter,
                    format,
                    &path,
                    &|_, _| {},
                )
                .await,
            )
        }
    }
}

/// Does one piece of administrative work through the admin services (which refuse anyone but an
/// admin and write the audit rows). A page is stamped with when it was read.
async fn admin_work(
    svc: &Services,
    client: &Client,
    session: &Session,
    work: AdminWork,
) -> AdminResult {
    match work {
        AdminWork::Users { filter, after } => AdminResult::Users(
            admin::users(svc, client, session, &filter, after)
                .await
                .map(stamped),
        ),
        AdminWork::Sessions { filter, after } => AdminResult::Sessions(
            admin::sessions(svc, client, session, &filter, after)
                .await
                .map(stamped),
        ),
        AdminWork::Create(new) => AdminResult::Acted(
            admin::create_user(svc, client, session, &new)
                .await
                .map(|(id, password)| Acted::Created(id, password)),
        ),
        AdminWork::SetActive { user, active } => AdminResult::Acted(
            admin::set_active(svc, client, session, user, active)
                .await
                .map(Acted::Count),
        ),
        AdminWork::ChangeRole { user, role } => AdminResult::Acted(
            admin::change_role(svc, client, session, user, role)
                .await
                .map(|()| Acted::Done),
        ),
        AdminWork::ResetPassword { user } => AdminResult::Acted(
            admin::reset_password(svc, client, session, user)
                .await
                .map(Acted::Password),
        ),
        AdminWork::Unlock { user } => AdminResult::Acted(
            admin::unlock(svc, client, session, user)
                .await
                .map(|()| Acted::Done),
        ),
        AdminWork::ResetMfa { user } => AdminResult::Acted(
            admin::reset_mfa(svc, client, session, user)
                .await
                .map(Acted::Count),
        ),
        AdminWork::EndSession { session: target } => AdminResult::Acted(
            admin::end_session(svc, client, session, target)
                .await
                .map(|()| Acted::Done),
        ),
        AdminWork::EndSessionsOf { user } => AdminResult::Acted(
            admin::end_sessions_of(svc, client, session, user)
                .await
                .map(Acted::Count),
        ),
    }
}

/// A page as the service returned it, stamped with the moment it was read.
fn stamped<T>((rows, next): (Vec<T>, Option<admin::Cursor>)) -> ListPage<T> {
    ListPage {
        rows,
        next,
        read_at: chrono::Utc::now(),
    }
}

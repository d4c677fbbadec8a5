//! SMS codes as a second factor. Messages leave through the mailer's sink (an SMS
//! gateway is outside Kaizen's control); codes are six random digits, stored hashed,
//! valid ten minutes, and spent once.

use rand::Rng;

use super::second_factor::Method;
use super::{Company, CompanyHandle};
use crate::crypto::SMS_PHONE;
use crate::db::now_ms;
use crate::error::ActorError;
use crate::mail::Message;
use crate::model::{Client, FactorStatus, Principal, Stage};

/// How long an SMS code works (ten minutes).
pub const SMS_CODE_MS: i64 = 10 * 60_000;

fn new_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// Whether `phone` is an E.164 number: `+`, then 8 to 15 digits, the first not zero.
pub fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Hides all but the last two digits of a number, for messages and the audit trail.
fn masked(phone: &str) -> String {
    let keep = phone.len().saturating_sub(2);
    format!("{}{}", "•".repeat(keep.saturating_sub(1)), &phone[keep..])
}

impl Company {
    fn send_sms(&self, phone: &str, code: &str, purpose: &str) {
        self.mailer.send(Message {
            kind: "sms",
            to: phone.to_owned(),
            subject: String::new(),
            body: format!("Your Kaizen code {purpose} is {code}. It works for 10 minutes."),
            link: None,
            code: Some(code.to_owned()),
        });
    }

    async fn start_sms(
        &mut self,
        principal: Principal,
        phone: String,
        client: Client,
    ) -> Result<(), ActorError> {
        match principal.stage {
            Stage::Full if !principal.is_elevated() => {
                return Err(ActorError::ReauthenticationRequired);
            }
            Stage::SecondFactor => return Err(ActorError::Forbidden),
            _ => {}
        }
        let phone = phone.trim().replace([' ', '-'], "");
        if !is_e164(&phone) {
            return Err(ActorError::Validation(
                "give the phone number in international form, e.g. +15551234567".into(),
            ));
        }
        let code = new_code();
        let mut tx = self.db.begin_write().await?;
        let confirmed: Option<(i64,)> = sqlx::query_as(
            "SELECT confirmed FROM sms_factors WHERE company_id = $1 AND user_id = $2",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if confirmed.is_some_and(|(c,)| c != 0) {
            return Err(ActorError::Conflict(
                "SMS codes are already set up; remove them first".into(),
            ));
        }
        sqlx::query("DELETE FROM sms_factors WHERE company_id = $1 AND user_id = $2")
            .bind(&self.id)
            .bind(&principal.user_id)
            .execute(&mut *tx)
            .await?;
        let sealed = self.seal(SMS_PHONE, &principal.user_id, &phone)?;
        sqlx::query(
            "INSERT INTO sms_factors (company_id, user_id, phone, confirmed, code_hash, \
             code_expires_at, created_at) VALUES ($1, $2, $3, 0, $4, $5, $6)",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .bind(&sealed)
        .bind(crate::db::sha256_hex(code.trim()))
        .bind(now_ms() + SMS_CODE_MS)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.send_sms(&phone, &code, "to confirm this number");
        let detail = serde_json::json!({ "purpose": "enrollment", "to": masked(&phone) });
        self.audit(Some(&principal.user_id), "sms_sent", None, &client, detail)
            .await;
        Ok(())
    }

    async fn confirm_sms(
        &mut self,
        principal: Principal,
        code: String,
        client: Client,
    ) -> Result<Vec<String>, ActorError> {
        if principal.stage == Stage::SecondFactor {
            return Err(ActorError::Forbidden);
        }
        let mut tx = self.db.begin_write().await?;
        let confirmed = sqlx::query(
            "UPDATE sms_factors SET confirmed = 1, code_hash = NULL WHERE company_id = $1 \
             AND user_id = $2 AND confirmed = 0 AND code_hash = $3 AND code_expires_at > $4",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .bind(crate::db::sha256_hex(code.trim()))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if confirmed.rows_affected() != 1 {
            return Err(ActorError::WrongCode);
        }
        self.finish_enrollment(tx, &principal, &client, Method::Sms)
            .await
    }

    /// Sends a code for a pending sign-in to the user's confirmed number. The code
    /// belongs to this sign-in attempt only; a new request replaces it.
    async fn send_sign_in_code(
        &mut self,
        principal: Principal,
        client: Client,
    ) -> Result<(), ActorError> {
        if principal.stage != Stage::SecondFactor {
            return Err(ActorError::Conflict(
                "no second factor is due for this session".into(),
            ));
        }
        let phone: Option<(String,)> = sqlx::query_as(
            "SELECT phone FROM sms_factors WHERE company_id = $1 AND user_id = $2 \
             AND confirmed = 1",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .fetch_optional(self.db.pool())
        .await?;
        let Some((phone,)) = phone else {
            return Err(ActorError::Conflict(
                "no phone number is set up for SMS codes".into(),
            ));
        };
        let phone = self.open(SMS_PHONE, &principal.user_id, &phone)?;
        let code = new_code();
        sqlx::query(
            "UPDATE sessions SET sms_code_hash = $3, sms_code_expires_at = $4 \
             WHERE company_id = $1 AND id = $2",
        )
        .bind(&self.id)
        .bind(&principal.session_id)
        .bind(crate::db::sha256_hex(code.trim()))
        .bind(now_ms() + SMS_CODE_MS)
        .execute(self.db.pool())
        .await?;
        self.send_sms(&phone, &code, "to sign in");
        let detail = serde_json::json!({ "purpose": "sign_in", "to": masked(&phone) });
        self.audit(Some(&principal.user_id), "sms_sent", None, &client, detail)
            .await;
        Ok(())
    }

    /// Checks the SMS code of a pending sign-in and spends it.
    pub(super) async fn spend_sms(
        &self,
        conn: &mut sqlx::AnyConnection,
        session_id: &str,
        code: &str,
    ) -> Result<bool, ActorError> {
        let spent = sqlx::query(
            "UPDATE sessions SET sms_code_hash = NULL WHERE company_id = $1 AND id = $2 \
             AND sms_code_hash = $3 AND sms_code_expires_at > $4",
        )
        .bind(&self.id)
        .bind(session_id)
        .bind(crate::db::sha256_hex(code.trim()))
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(spent.rows_affected() == 1)
    }
}

impl Company {
    async fn factor_status(&mut self, principal: Principal) -> Result<FactorStatus, ActorError> {
        let mut conn = self.db.pool().acquire().await?;
        let totp = self
            .has_confirmed_totp(&mut conn, &principal.user_id)
            .await?;
        let phone: Option<(String,)> = sqlx::query_as(
            "SELECT phone FROM sms_factors WHERE company_id = $1 AND user_id = $2 \
             AND confirmed = 1",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .fetch_optional(&mut *conn)
        .await?;
        let (recovery_codes_left, trusted_devices): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM recovery_codes WHERE company_id = $1 AND user_id = $2 \
             AND used_at IS NULL), (SELECT COUNT(*) FROM trusted_devices WHERE company_id = $1 \
             AND user_id = $2 AND expires_at > $3)",
        )
        .bind(&self.id)
        .bind(&principal.user_id)
        .bind(now_ms())
        .fetch_one(&mut *conn)
        .await?;
        Ok(FactorStatus {
            totp,
            sms_phone: match phone {
                Some((sealed,)) => Some(masked(&self.open(
                    SMS_PHONE,
                    &principal.user_id,
                    &sealed,
                )?)),
                None => None,
            },
            recovery_codes_left,
            trusted_devices,
        })
    }
}

impl CompanyHandle {
    /// Which second factors the signed-in user has.
    pub async fn factor_status(&self, principal: Principal) -> Result<FactorStatus, ActorError> {
        self.call(move |c| Box::pin(c.factor_status(principal)))
            .await
    }

    /// Starts setting up SMS codes: sends a code to `phone`.
    pub async fn start_sms(
        &self,
        principal: Principal,
        phone: String,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.start_sms(principal, phone, client)))
            .await
    }

    /// Confirms the number with the code sent to it; answers recovery codes.
    pub async fn confirm_sms(
        &self,
        principal: Principal,
        code: String,
        client: Client,
    ) -> Result<Vec<String>, ActorError> {
        self.call(move |c| Box::pin(c.confirm_sms(principal, code, client)))
            .await
    }

    /// Sends an SMS code for this pending sign-in.
    pub async fn send_sign_in_code(
        &self,
        principal: Principal,
        client: Client,
    ) -> Result<(), ActorError> {
        self.call(move |c| Box::pin(c.send_sign_in_code(principal, client)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_must_be_international() {
        assert!(is_e164("+15551234567"));
        assert!(is_e164("+447700900123"));
        for bad in [
            "15551234567",
            "+0551234567",
            "+1555",
            "+1555123456789012",
            "+1555abc4567",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
        assert_eq!(masked("+15551234567"), "•••••••••67");
    }
}

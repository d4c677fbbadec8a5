//! The errors a company's actor answers with.

/// Why a command failed. The HTTP layer maps each variant to one stable error code; the
/// text of [`ActorError::Database`] is logged, never shown to a client.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    /// The object does not exist for this caller: made-up ids, another company's ids and
    /// objects the caller may not see all look alike.
    #[error("not found")]
    NotFound,

    /// The caller's role does not allow this command at all.
    #[error("forbidden")]
    Forbidden,

    /// The object changed under the caller (stale version) or is in the wrong state.
    #[error("{0}")]
    Conflict(String),

    /// Saves of the same answers from two places: the caller's version is stale for
    /// those answers. Carries both versions of each.
    #[error("someone else changed the same answers meanwhile")]
    EditConflict(Box<crate::model::ReviewConflict>),

    /// The input is well-formed but breaks a rule; the message names the rule.
    #[error("{0}")]
    Validation(String),

    /// The client's address is outside the company's allowed ranges.
    #[error("this company cannot be used from your address")]
    IpNotAllowed,

    /// A sensitive action needs the password again first.
    #[error("confirm your password first")]
    ReauthenticationRequired,

    /// A second-factor code was wrong, already used or expired.
    #[error("that code is not right")]
    WrongCode,

    /// Too many wrong codes: the pending sign-in is void; sign in again.
    #[error("too many wrong codes; sign in again")]
    SignInVoid,

    /// A row of another company came back from the database. The command was rolled back
    /// and the event recorded; the caller learns nothing more than that it failed.
    #[error("security violation: {0}")]
    SecurityViolation(crate::guard::Violation),

    /// Wiping a company older than four weeks needs the operator's master password; it
    /// was missing, wrong, spent or expired.
    #[error("wiping this company needs a valid master password from the operator")]
    MasterPasswordRequired,

    /// The operator has not switched XML export on for this company.
    #[error("XML export is not enabled for this company")]
    XmlExportDisabled,

    /// A stored field did not decrypt: a wrong or missing key, or a value altered or
    /// moved. Logged with its place by the actor; never answered with a blank instead.
    #[error("a stored field could not be decrypted")]
    DecryptionFailed,

    /// A field could not be encrypted (the keyring holds no key). Logged by the actor.
    #[error("a field could not be encrypted")]
    EncryptionFailed,

    /// The company's actor stopped or panicked while handling the command.
    #[error("the company's actor is unavailable")]
    Unavailable,

    /// The database failed. Logged with its cause; clients see a bare internal error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

-- Version 1 of the consent text for every scope. A changed text is a new version (a new row), never an edit.
INSERT INTO consent_documents (scope, version, title, body, content_hash) VALUES
('telehealth-treatment', '1', 'Consent to psychotherapy by telehealth',
 'I agree to receive psychotherapy through video, audio and chat sessions on the Rapport platform. '
 'I understand the benefits and limits of telehealth, how my privacy is protected, what happens if a '
 'connection fails, how emergencies are handled, and that I may withdraw this consent at any time.', ''),
('session-recording', '1', 'Consent to the recording of sessions',
 'I agree that my sessions may be recorded. Recordings are used only for my care and for the clinical '
 'supervision of my therapist, are stored encrypted, and are deleted under the retention policy. I may '
 'withdraw this consent at any time; recordings made before withdrawal are kept as described.', ''),
('measurement-feedback', '1', 'Consent to routine outcome and alliance measurement',
 'I agree to complete short questionnaires (SRS, ORS, WAI-SR and in-session pulse checks) and that my '
 'answers are shown to my therapist to guide our work together. I may withdraw this consent at any time.', ''),
('alliance-analytics', '1', 'Consent to session analytics',
 'I agree that technical signals from my video sessions (talk share, camera on or off, silences; never '
 'the content of what is said) may be analysed to help my therapist notice how our work is going. I may '
 'withdraw this consent at any time.', ''),
('message-scanning', '1', 'Consent to automated message checks',
 'I agree that messages exchanged on the platform may be checked automatically for requests to move '
 'contact or payment off the platform, to protect me. The content of my messages is not stored by the '
 'check. I may withdraw this consent at any time.', ''),
('third-party-sharing', '1', 'Consent to share information with a named third party',
 'I agree that the information described in this consent may be shared with the recipient named in it, '
 'for the purpose named in it, until the date named in it. I may withdraw this consent at any time.', ''),
('sud-part2-disclosure', '1', 'Consent to disclose substance use disorder records (42 CFR Part 2)',
 'I authorise the program named below to disclose the substance use disorder information described '
 'below to the recipients named below for the purpose stated below. This consent ends on the date or '
 'event stated below. I understand that I may revoke this consent at any time, except to the extent that '
 'action has already been taken in reliance on it. I understand that records disclosed under this '
 'consent are protected by 42 CFR Part 2 and that the recipient may not redisclose them except as '
 'permitted by that rule (redisclosure notice), and that my treatment does not depend on signing.', ''),
('research', '1', 'Consent to the use of de-identified data for research',
 'I agree that de-identified information about my therapy may be used for research approved by an '
 'ethics board. No information that identifies me is shared. I may withdraw this consent at any time; '
 'data already used in completed analyses cannot be withdrawn.', '');

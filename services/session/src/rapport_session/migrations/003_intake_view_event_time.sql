-- The intake view keeps the latest registration by event time (rapport_common.projections.intake_view);
-- rows from before this column yield to any dated registration.
ALTER TABLE clients ADD COLUMN registered_at timestamptz;

-- Composite indexes for the usual shape of a search: a field and a status
-- ("protocol:elasticsearch status:exposed"). SQLite uses one index per
-- table, so a pair narrows far more than either alone.
CREATE INDEX exposures_protocol_status ON exposures (protocol, status);
CREATE INDEX exposures_provider_status ON exposures (provider, status);
CREATE INDEX exposures_country_status ON exposures (country, status);
CREATE INDEX exposures_severity_status ON exposures (severity, status);

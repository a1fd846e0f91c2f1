-- outbox and orders take two dead row versions per order (outbox: each row's published_at update;
-- orders: the payment and notify updates). The default thresholds scale with the table (20 % of its
-- rows dead before a vacuum, 10 % changed before an analyze): with an hour of outbox rows kept, hundreds
-- of thousands of dead entries that every relay claim steps over. A fixed threshold instead lets
-- autovacuum clean them, and refresh the statistics (which also replaces plans cached for a smaller
-- table), on each of its visits (autovacuum_naptime, a minute by default) once 5,000 rows changed.
ALTER TABLE "outbox" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);--> statement-breakpoint
ALTER TABLE "orders" SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);

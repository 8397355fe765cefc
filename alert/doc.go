// Package alert turns login events into security alerts that always arrive.
//
// Rules (built-in triggers and custom JavaScript conditions) are kept in the
// settings store and compiled in memory; the Engine (a
// sessionmanager.Alerter) turns an event into outbox deliveries without any
// I/O and never runs a condition; the Worker claims deliveries from the
// durable outbox, decides those waiting for a condition in a separate,
// resource-capped evaluator process (ProcessEvaluator, ServeConditions),
// and sends them through the channels (SMTP email, Slack, Discord, signed
// HTTPS webhook) with retries, exponential backoff with full jitter and a
// dead letter.
// docs/ALERTS.md is the user documentation.
package alert

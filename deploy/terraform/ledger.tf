# The ledger table (src/cdk/ledger-table.ts): the rails' memory (quorum votes, recent marks,
# reports, holds), one item per group, changed only by conditional writes, so any number of healers
# in any number of processes never overspend a budget nor lose a vote; and the observers' leases
# (`pk = lease#<observer>`), so runs of one observer never overlap without reserved concurrency.
# The key schema is the ledger's (src/aws/dynamodb.ts; `autoheal ledger create` makes the same
# table): partition key `pk` (string), TTL on `expiresAt`. On demand: nothing to provision.
#
# Deleted with the module: it holds minutes of memory (votes for the quorum window, marks for the
# rate window, holds until they lift), worth nothing without the healer that reads it.

locals {
  ledger_table_name = "${var.name}-ledger"
  # Known at plan time, so the plan shows the healer's whole policy.
  ledger_table_arn = "arn:${local.partition}:dynamodb:${local.region}:${local.account}:table/${local.ledger_table_name}"
  # The table actions each role is granted (the construct's ledgerActions). The healer reads an
  # entry (GetItem) and commits it only if unchanged (a conditional PutItem of the whole entry);
  # no UpdateItem (whole entries) and no DeleteItem (entries leave by TTL). An observer takes,
  # reads and releases its lease.
  ledger_actions = {
    healer   = ["dynamodb:GetItem", "dynamodb:PutItem"]
    observer = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
  }
}

resource "aws_dynamodb_table" "ledger" {
  name         = local.ledger_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }
}

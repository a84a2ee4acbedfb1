[
  (block)
  (for_body)
  (parameters)
  (outputs)
  (list)
  (arguments)
  (parenthesized_expression)
] @indent.begin

[
  "}"
  "]"
  ")"
] @indent.end @indent.branch

[
  (block_comment)
  (string)
  (raw_string)
] @indent.auto

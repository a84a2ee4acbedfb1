[
  (block)
  (for_body)
  (parameters)
  (outputs)
  (list)
  (arguments)
  (block_comment)
] @fold

" Vim indent file for KFL: one level per open `{`, `[` or `(`.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal autoindent nosmartindent nocindent
setlocal indentexpr=GetKflIndent(v:lnum)
setlocal indentkeys=0{,0},0),0],!^F,o,O

let b:undo_indent = 'setlocal autoindent< smartindent< cindent< indentexpr< indentkeys<'

if exists('*GetKflIndent')
  finish
endif

" Net number of brackets a line opens, ignoring strings and comments.
function! s:Balance(line) abort
  let l:s = substitute(a:line, '\\.', '', 'g')
  let l:s = substitute(l:s, 'r"[^"]*"', '""', 'g')
  let l:s = substitute(l:s, '"[^"]*"', '""', 'g')
  let l:s = substitute(l:s, '/\*.\{-}\*/', '', 'g')
  let l:s = substitute(l:s, '//.*$', '', '')
  let l:open = len(substitute(l:s, '[^{[(]', '', 'g'))
  let l:close = len(substitute(l:s, '[^}\])]', '', 'g'))
  return l:open - l:close
endfunction

function! GetKflIndent(lnum) abort
  let l:prev = prevnonblank(a:lnum - 1)
  if l:prev == 0
    return 0
  endif
  let l:prevline = getline(l:prev)
  let l:ind = indent(l:prev)
  let l:bal = s:Balance(l:prevline)
  " a line that starts by closing does not count its leading closers
  let l:lead = len(substitute(matchstr(l:prevline, '^\s*[}\])]\+'), '\s', '', 'g'))
  let l:bal += l:lead
  if l:bal > 0
    let l:ind += shiftwidth()
  elseif l:bal < 0
    let l:ind -= shiftwidth()
  endif
  if getline(a:lnum) =~# '^\s*[}\])]'
    let l:ind -= shiftwidth()
  endif
  return l:ind < 0 ? 0 : l:ind
endfunction

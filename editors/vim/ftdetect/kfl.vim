" Vim filetype detection for KFL (.kfl)
autocmd BufNewFile,BufRead *.kfl setfiletype kfl

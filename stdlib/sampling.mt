// Case sampling policies. Import with:  import "std/sampling"

// MultiTalent: a case of dataset k is drawn with weight 1/sqrt(n_k), so dataset k gets a share of
// draws proportional to sqrt(n_k); a third of each batch is centred on a present class.
sampling multitalent_sampling {
  kind       inverse_sqrt
  foreground 0.33
}

// Every case equally likely (a dataset's share is proportional to its size).
sampling proportional_sampling {
  kind       proportional
  foreground 0.33
}

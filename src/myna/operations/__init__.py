"""Operations figures the J-LIS operators watch: availability by the sources' formula."""
